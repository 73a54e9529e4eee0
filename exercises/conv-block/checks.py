"""Hidden checks for the conv block (projection shortcut W_s). Trusted: they run in the worker,
OUTSIDE the sandbox.

Every numeric check copies a randomised reference's weights into the student's block (registration
order), feeds the same input to both, and compares. When the output is wrong, the student's output
is matched against what each known mistake would produce with the same weights and input, so the
feedback can name it. A forward that crashes where the two paths meet (their shapes differ) is
explained from the block's layer shapes and its printed layers (strides, padding, pooling).

Helpers that grader/blockkit.py does not have (kept here, the grader package is not edited):
snapshot/variant computation for the projection block, a structure `diagnose` callback for the
shortcut, and a parser for the student's module repr (Conv2d strides and padding, pooling layers),
used only to explain a failure, never to fail a correct block.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from grader.blockkit import adapted_state, clone_state, compare_structure, randomize_, structure_or_fail
from grader.checklib import Context, ForwardResult, RemoteModule, TensorSpec, check
from grader.compare import close, compare
from grader.sandbox.pool import StudentError

MOMENTUM = 0.1
EPS = 1e-5


# ---- the reference computation and its known mistakes (trusted side) ----------------------------

@dataclass(frozen=True)
class Weights:
    """A snapshot of the reference's parameters and running statistics (taken before a forward)."""
    w1: torch.Tensor
    g1: torch.Tensor
    b1: torch.Tensor
    w2: torch.Tensor
    g2: torch.Tensor
    b2: torch.Tensor
    ws: torch.Tensor
    gs: torch.Tensor
    bs: torch.Tensor
    rm1: torch.Tensor
    rv1: torch.Tensor
    rm2: torch.Tensor
    rv2: torch.Tensor
    rms: torch.Tensor
    rvs: torch.Tensor


def snapshot(ref: torch.nn.Module) -> Weights:
    params = [p.detach().clone() for p in ref.parameters()]
    stats = [b.detach().clone() for b in ref.buffers() if b.dtype != torch.int64]
    return Weights(*params, *stats)


@dataclass(frozen=True)
class Variant:
    """How a (possibly wrong) conv block computes its output."""
    s1: int | None = None          # conv1 stride (None: the block's stride)
    s2: int = 1                    # conv2 stride
    ss: int | None = None          # shortcut stride (None: the block's stride)
    order: str = "cbr"             # main path: conv-bn-relu ("cbr") or conv-relu-bn ("crb")
    short_bn: bool = True          # batch norm after W_s
    combine: str = "relu_sum"      # relu_sum | sum | after_relu (relu(m) + sc) | relu_before (relu(relu(m) + sc))
    bn_train: bool | None = None   # batch statistics (None: the module's mode)
    pre: Callable[[torch.Tensor], torch.Tensor] | None = None        # applied to x before both paths
    pool_conv: Callable[[torch.Tensor], torch.Tensor] | None = None  # after conv1 (and after W_s if pool_short)
    pool_short: bool = True
    pool_out: Callable[[torch.Tensor], torch.Tensor] | None = None   # on the sum, before the final ReLU


def _bn(t: torch.Tensor, g: torch.Tensor, b: torch.Tensor, rm: torch.Tensor, rv: torch.Tensor, train: bool) -> torch.Tensor:
    return F.batch_norm(t, rm.clone(), rv.clone(), g, b, training=train, momentum=MOMENTUM, eps=EPS)


def run_variant(w: Weights, x: torch.Tensor, s: int, train: bool, v: Variant) -> torch.Tensor:
    bt = train if v.bn_train is None else v.bn_train
    inp = v.pre(x) if v.pre else x
    c1 = F.conv2d(inp, w.w1, stride=s if v.s1 is None else v.s1, padding=1)
    if v.pool_conv:
        c1 = v.pool_conv(c1)
    if v.order == "cbr":
        h = F.relu(_bn(c1, w.g1, w.b1, w.rm1, w.rv1, bt))
    else:
        h = _bn(F.relu(c1), w.g1, w.b1, w.rm1, w.rv1, bt)
    m = _bn(F.conv2d(h, w.w2, stride=v.s2, padding=1), w.g2, w.b2, w.rm2, w.rv2, bt)
    sc = F.conv2d(inp, w.ws, stride=s if v.ss is None else v.ss)
    if v.pool_conv and v.pool_short:
        sc = v.pool_conv(sc)
    if v.short_bn:
        sc = _bn(sc, w.gs, w.bs, w.rms, w.rvs, bt)
    if v.combine == "after_relu":
        return F.relu(m) + sc
    if v.combine == "relu_before":
        return F.relu(F.relu(m) + sc)
    total = m + sc
    if v.pool_out:
        total = v.pool_out(total)
    return total if v.combine == "sum" else F.relu(total)


def _pools(s: int) -> list[Callable[[torch.Tensor], torch.Tensor]]:
    return [lambda t: F.max_pool2d(t, s), lambda t: F.avg_pool2d(t, s),
            lambda t: F.max_pool2d(t, s, ceil_mode=True), lambda t: F.avg_pool2d(t, s, ceil_mode=True),
            lambda t: F.max_pool2d(t, 3, s, 1), lambda t: F.avg_pool2d(t, 3, s, 1)]


def mistake_variants(s: int, train: bool) -> list[tuple[str, Variant]]:
    """Known mistakes, most specific first (a wrong output is named after the first it matches)."""
    out: list[tuple[str, Variant]] = [
        ("shortcut_after_final_relu", Variant(combine="after_relu")),
        ("relu_before_add", Variant(combine="relu_before")),
        ("missing_final_relu", Variant(combine="sum")),
        ("batchnorm_order", Variant(order="crb")),
        ("projection_without_bn", Variant(short_bn=False)),
        ("inplace_overwrites_input", Variant(pre=F.relu)),
        # Training: batch norm forced into eval behaviour. Eval: batch statistics used anyway.
        ("eval_mode_wrong", Variant(bn_train=not train)),
    ]
    if s > 1:
        out += [("stride_on_wrong_conv", Variant(s1=1, s2=s)),
                ("stride_ignored", Variant(s1=1, ss=1))]
        for pool in _pools(s):
            out += [("pooling_instead_of_stride", Variant(s1=1, ss=1, pre=pool)),
                    ("pooling_instead_of_stride", Variant(s1=1, ss=1, pool_conv=pool)),
                    ("pooling_instead_of_stride", Variant(s1=1, pool_conv=pool, pool_short=False)),
                    ("pooling_instead_of_stride", Variant(s1=1, ss=1, pool_out=pool))]
    return out


def matching_mistakes(actual: torch.Tensor, w: Weights, x: torch.Tensor, s: int, train: bool) -> list[str]:
    found: list[str] = []
    for mid, v in mistake_variants(s, train):
        if mid in found:
            continue
        try:
            expected = run_variant(w, x, s, train, v)
        except (RuntimeError, ValueError):  # e.g. batch statistics of one value: that mistake cannot occur here
            continue
        if close(actual, expected, rtol=1e-4, atol=1e-4):
            found.append(mid)
    return found


def pick(ctx: Context, mids: Sequence[str]) -> str | None:
    """Several mistakes can give the same output here: prefer the one an earlier check pinned down."""
    if not mids:
        return None
    earlier = ctx.memo.get("diagnosis")
    return earlier if earlier in mids else mids[0]


# ---- reading the student's block (only to explain a failure) ------------------------------------

@dataclass(frozen=True)
class ConvInfo:
    cin: int
    cout: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


_CONV = re.compile(r"Conv2d\((\d+), (\d+), kernel_size=\((\d+), (\d+)\), stride=\((\d+), (\d+)\)(.*)")
_PAD = re.compile(r"padding=\((\d+), (\d+)\)")


def convs_in(student: RemoteModule) -> list[ConvInfo]:
    found = []
    for line in student.repr.splitlines():
        m = _CONV.search(line)
        if not m:
            continue
        pad = _PAD.search(m.group(7))
        found.append(ConvInfo(int(m.group(1)), int(m.group(2)), (int(m.group(3)), int(m.group(4))),
                              (int(m.group(5)), int(m.group(6))),
                              (int(pad.group(1)), int(pad.group(2))) if pad else (0, 0)))
    return found


def pool_layers(student: RemoteModule) -> list[str]:
    return [f"{name} ({kind})" for name, kind in student.submodules if "Pool" in kind]


def layer_diagnosis(student: RemoteModule, s: int) -> list[tuple[str, str]]:
    """(misconception id, what in the block's layers shows it), from the printed module."""
    found: list[tuple[str, str]] = []
    pools = pool_layers(student)
    if pools and s > 1:
        found.append(("pooling_instead_of_stride", f"Your block contains pooling layers: {', '.join(pools)}."))
    convs = convs_in(student)
    k3 = [c for c in convs if c.kernel == (3, 3)]
    k1 = [c for c in convs if c.kernel == (1, 1)]
    if len(k3) >= 2 and any(c.padding != (1, 1) for c in k3[:2]):
        found.append(("wrong_padding", "Your 3x3 convolutions use padding "
                      f"{k3[0].padding[0]} and {k3[1].padding[0]}; both need padding=1."))
    if s > 1 and not pools and len(k3) >= 2 and k1:
        c1, c2, cs = k3[0], k3[1], k1[0]
        if c1.stride == c2.stride == cs.stride == (1, 1):
            found.append(("stride_ignored", f"None of your convolutions has stride {s}."))
        else:
            if c1.stride != (s, s) or c2.stride != (1, 1):
                found.append(("stride_on_wrong_conv", f"Your conv1 has stride {c1.stride[0]} and your conv2 stride "
                              f"{c2.stride[0]}: the main path downsamples in conv1 (stride {s}); conv2 has stride 1."))
            if cs.stride != (s, s):
                found.append(("shortcut_stride_missing", f"Your shortcut's 1x1 convolution has stride {cs.stride[0]}; "
                              f"it needs the block's stride {s}, like conv1."))
    return found


def _without_conv_bias(specs: list[TensorSpec]) -> tuple[list[tuple[int, ...]], bool]:
    kept, dropped = [], False
    for i, spec in enumerate(specs):
        prev = specs[i - 1] if i else None
        if spec.name.endswith("bias") and prev is not None and len(prev.shape) == 4 and \
                prev.name.rsplit(".", 1)[0] == spec.name.rsplit(".", 1)[0]:
            dropped = True
            continue
        kept.append(spec.shape)
    return kept, dropped


def structure_diagnosis(ref: torch.nn.Module) -> Callable[[list[TensorSpec], list[TensorSpec]], tuple[str, ...]]:
    """A compare_structure `diagnose` callback that recognises the shortcut's typical mistakes."""
    exp = [tuple(p.shape) for p in ref.parameters()]

    def diagnose(got_p: list[TensorSpec], got_b: list[TensorSpec]) -> tuple[str, ...]:
        got, had_bias = _without_conv_bias(got_p)
        extra = ("conv_bias",) if had_bias else ()
        if got == exp[:6]:
            return ("projection_missing",) + extra
        if got == exp[:7]:
            return ("projection_without_bn",) + extra
        if len(got) == len(exp) and got[:6] == exp[:6] and got[7:] == exp[7:] and got[6][:2] == exp[6][:2] \
                and got[6][2:] != exp[6][2:]:
            return ("projection_not_1x1",) + extra
        return ()

    return diagnose


def new_reference(ctx: Context, cin: int, cout: int, s: int) -> torch.nn.Module:
    return randomize_(ctx.fresh_reference("ConvBlock", cin, cout, s), ctx.generator)


def out_shape(x: torch.Tensor, cout: int, s: int) -> tuple[int, ...]:
    n, _, h, w = x.shape
    return (n, cout, math.ceil(h / s), math.ceil(w / s))


def _label(cin: int, cout: int, s: int) -> str:
    return f"ConvBlock({cin}, {cout}, stride={s})"


# ---- driving the student's block -----------------------------------------------------------------

def setup(ctx: Context, cin: int, cout: int, s: int, *,
          tweak: Callable[[torch.nn.Module], None] | None = None) -> tuple[RemoteModule, torch.nn.Module]:
    """A student block and a randomised reference with the same weights copied in."""
    ref = new_reference(ctx, cin, cout, s)
    if tweak:
        with torch.no_grad():
            tweak(ref)
    student = ctx.construct(cin, cout, s)
    report = structure_or_fail(ctx, student, ref, structure_diagnosis(ref))
    params, buffers = adapted_state(report, ref, student)
    student.load_state(params, buffers)
    return student, ref


_TOO_SMALL = ("Kernel size can't be greater than actual input size", "Output size is too small")
_SIZE_MISMATCH = ("size of tensor", "must match the size", "shapes cannot be", "not broadcastable", "broadcast")


def forward_or_explain(ctx: Context, student: RemoteModule, ref: torch.nn.Module, x: torch.Tensor, s: int, what: str,
                       *, requires_grad: bool = False, train: bool | None = None) -> ForwardResult:
    """forward(), turning the typical 'shapes do not match at the add' crash into the lesson behind it."""
    try:
        return student.forward(x, requires_grad=requires_grad)
    except StudentError as exc:
        if train is False and "more than 1 value per channel when training" in exc.message:
            ctx.fail(f"In eval mode, for an input of shape {tuple(x.shape)} ({what}), your forward() failed:\n"
                     f"{exc.describe()}\nBatch norm only needs batch statistics in training mode; in eval mode it "
                     f"uses its running statistics, so a single value per channel is fine.", "eval_mode_wrong")
        if any(k in exc.message for k in _TOO_SMALL):
            layers = layer_diagnosis(student, s)
            if layers:
                ctx.fail(f"For an input of shape {tuple(x.shape)} ({what}) your forward() failed because a layer's "
                         f"input became too small:\n{exc.describe()}\n{layers[0][1]} With stride {s} the block must "
                         f"give {out_shape(x, int(ref.bn1.num_features), s)} for this input.", *[m for m, _ in layers])
            raise
        if not any(k in exc.message for k in _SIZE_MISMATCH):
            raise
        cin, cout = int(x.shape[1]), int(ref.bn1.num_features)
        target = out_shape(x, cout, s)
        head = (f"For an input of shape {tuple(x.shape)} ({what}) your forward() failed where two tensors of different "
                f"shapes meet (most likely where the main path and the shortcut are added):\n{exc.describe()}\n")
        report = compare_structure(student, ref, structure_diagnosis(ref))
        if "projection_missing" in report.misconceptions:
            ctx.fail(head + f"The main path turns x of shape {tuple(x.shape)} into {target}, so x itself cannot be "
                     f"added to it: the shapes differ. When a block changes the number of channels or the size, the "
                     f"shortcut must project x with W_s, a 1x1 convolution from {cin} to {cout} channels with "
                     f"stride {s}, followed by batch norm: a[l+2] = g(z[l+2] + W_s a[l]).", "projection_missing")
        layers = layer_diagnosis(student, s)
        if layers:
            mid, why = layers[0]
            lesson = {
                "shortcut_stride_missing": f"The main path produces {target}, but a shortcut with stride 1 keeps "
                                           f"H x W = {tuple(x.shape[2:])}, so the two cannot be added.",
                "stride_on_wrong_conv": f"Both paths must end at {target}: the main path downsamples once, in "
                                        f"conv1, exactly as the shortcut does in its 1x1 convolution.",
                "wrong_padding": f"Without padding=1 a 3x3 convolution shrinks H and W, so the main path no longer "
                                 f"has the shortcut's shape {target}.",
                "pooling_instead_of_stride": f"Pooling shrinks odd sizes differently from a strided convolution "
                                             f"(floor instead of ceil): both paths must give {target}.",
            }.get(mid, "")
            ctx.fail(head + why + " " + lesson, *[m for m, _ in layers])
        if not report.ok:
            ctx.fail(head + report.message, *report.misconceptions)
        ctx.fail(head + f"Both paths must give shape {target}: the main path downsamples in conv1 (stride {s}), the "
                 f"shortcut in its 1x1 convolution (stride {s}).", "shape_changed")


def shape_mistakes(ctx: Context, student: RemoteModule, got: torch.Tensor, x: torch.Tensor, cout: int, s: int) -> list[str]:
    """Ids for an output of the wrong shape, when no computed mistake matched it."""
    layers = [m for m, _ in layer_diagnosis(student, s)]
    if layers:
        return layers
    if s > 1 and tuple(got.shape) == (x.shape[0], cout, x.shape[2], x.shape[3]):
        return ["stride_ignored"]
    return ["shape_changed"]


def expect_output(ctx: Context, student: RemoteModule, ref: torch.nn.Module, x: torch.Tensor, s: int, *,
                  train: bool, what: str, lesson: str = "") -> None:
    """Forward both; on a mismatch, name the mistake whose output the student's matches."""
    student.train(train)
    ref.train(train)
    w = snapshot(ref)  # before ref(x) updates the running statistics
    got = forward_or_explain(ctx, student, ref, x, s, what, train=train)
    with torch.no_grad():
        expected = ref(x)
    if got.output is None:
        ctx.fail(f"forward() returned a {got.output_type}, not a tensor.", "wrong_output_type")
    out = got.output
    result = compare(out, expected, what=f"output ({what})")
    if not result.ok:
        if out.dtype.is_floating_point and not torch.isfinite(out).all():
            ctx.fail(result.message, "nonfinite_output")
        mid = pick(ctx, matching_mistakes(out.float(), w, x, s, train))
        note = " Your output is exactly what that mistake produces."
        if mid is None and pool_layers(student) and s > 1:
            mid, note = "pooling_instead_of_stride", f" Your block contains pooling layers: {', '.join(pool_layers(student))}."
        if mid:
            ctx.memo.setdefault("diagnosis", mid)
        prefix = lesson + "\n" if lesson else ""
        if mid:
            ctx.fail(prefix + result.message + note, mid)
        cout = int(expected.shape[1])
        if out.shape != expected.shape:
            mids = shape_mistakes(ctx, student, out, x, cout, s)
            ctx.memo.setdefault("diagnosis", mids[0])
            ctx.fail(prefix + f"For an input of shape {tuple(x.shape)} ({what}) your block returned shape "
                     f"{tuple(out.shape)}; expected {tuple(expected.shape)} = (N, Cout, ceil(H/{s}), ceil(W/{s})).",
                     *mids)
        layers = [m for m, _ in layer_diagnosis(student, s)]
        ctx.fail(prefix + result.message, *(layers or ["main_path_wrong"]))
    if got.input_changed:
        ctx.fail(f"The output is right, but your forward() changed its input tensor in place ({what}). The caller's "
                 f"tensor (and the shortcut, which still needs it) must stay untouched.", "inplace_overwrites_input")


# ---- the checks ------------------------------------------------------------------------------------

@check("output has shape (N, Cout, ceil(H/s), ceil(W/s))", points=1, visibility="visible")
def output_shape(ctx: Context) -> None:
    cases = [((4, 8), 2, (2, 4, 8, 8), "default stride 2, 8x8"),
             ((3, 6, 2), 2, (1, 3, 7, 5), "stride 2, odd size 7x5"),
             ((4, 6, 1), 1, (2, 4, 5, 5), "stride 1, 4 -> 6 channels")]
    for args, s, shape, what in cases:
        cin, cout = args[0], args[1]
        ref = new_reference(ctx, cin, cout, s)
        student = ctx.construct(*args)
        report = compare_structure(student, ref, structure_diagnosis(ref))
        if report.ok or report.misconceptions == ("conv_bias",):
            student.load_state(*adapted_state(report, ref, student))  # lets a wrong output be matched to a mistake
        label = f"ConvBlock({', '.join(map(str, args))})"
        x = ctx.randn(*shape)
        got = forward_or_explain(ctx, student, ref, x, s, f"{label}, {what}")
        if got.output is None:
            ctx.fail(f"forward() returned a {got.output_type}; it must return one tensor.", "wrong_output_type")
        want = out_shape(x, cout, s)
        if tuple(got.output.shape) != want:
            mids: list[str] = []
            if report.ok or report.misconceptions == ("conv_bias",):
                ref.train()
                mids = matching_mistakes(got.output.float(), snapshot(ref), x, s, True)
            mids = mids or shape_mistakes(ctx, student, got.output, x, cout, s)
            ctx.fail(f"For {label} ({what}) and an input of shape {shape} your block returned shape "
                     f"{tuple(got.output.shape)}; expected {want}. With stride s, both the main path (conv1) and the "
                     f"shortcut W_s give ceil(H/s) x ceil(W/s) = {want[2]} x {want[3]}, with Cout = {cout} channels, so "
                     f"that the two can be added.", *mids)
        if got.output.dtype != torch.float32:
            ctx.fail(f"The output has dtype {got.output.dtype}; expected torch.float32.", "wrong_output_type")


@check("layers follow the spec (conv1, bn1, conv2, bn2, 1x1 shortcut conv, shortcut bn; no conv bias) and "
       "forward runs", points=1)
def layer_structure(ctx: Context) -> None:
    for cin, cout, s in ((4, 8, 2), (3, 5, 1), (4, 4, 1)):
        ref = ctx.fresh_reference("ConvBlock", cin, cout, s)
        student = ctx.construct(cin, cout, s)
        report = compare_structure(student, ref, structure_diagnosis(ref))
        if not report.ok:
            extra = ""
            if "projection_missing" in report.misconceptions and cin == cout and s == 1:
                extra = ("\nHere the shape does not change, but the conv block always projects its shortcut with W_s "
                         "(the block that adds x unchanged is the identity block, a different exercise).")
            ctx.fail(f"For {_label(cin, cout, s)}: {report.message}{extra}", *report.misconceptions)
        forward_or_explain(ctx, student, ref, ctx.randn(2, cin, 6, 6), s, f"{_label(cin, cout, s)}, 6x6")


@check("matches the reference in training mode (stride 2, 4 -> 8 channels)", points=2)
def matches_train(ctx: Context) -> None:
    student, ref = setup(ctx, 4, 8, 2)
    expect_output(ctx, student, ref, ctx.randn(4, 4, 8, 8), 2, train=True, what="training mode, stride 2, 8x8")


@check("matches the reference in evaluation mode", points=1)
def matches_eval(ctx: Context) -> None:
    student, ref = setup(ctx, 4, 8, 2)
    expect_output(ctx, student, ref, ctx.randn(3, 4, 8, 8), 2, train=False, what="eval mode, stride 2, 8x8")


@check("updates all three batch norms' running statistics like the reference", points=1)
def running_stats(ctx: Context) -> None:
    student, ref = setup(ctx, 3, 6, 2)
    x = ctx.randn(4, 3, 6, 6) * 2 + 0.5
    student.train()
    ref.train()
    w = snapshot(ref)
    got = forward_or_explain(ctx, student, ref, x, 2, "training mode, stride 2, 6x6")
    with torch.no_grad():
        expected = ref(x)
    _, got_buffers = student.state()
    _, exp_buffers = clone_state(ref)
    names = [b.name for b in student.buffers]
    for name, gb, eb in zip(names, got_buffers, exp_buffers):
        if gb.dtype == torch.int64:
            if int(gb.reshape(-1)[0]) != int(eb.reshape(-1)[0]):
                ctx.fail(f"After one training-mode forward, {name} is {int(gb.reshape(-1)[0])}, expected "
                         f"{int(eb.reshape(-1)[0])}: each batch norm must run exactly once per forward.",
                         "running_stats_wrong")
            continue
        result = compare(gb, eb, what=f"buffer {name} after one training-mode forward", dims=None)
        if result.ok:
            continue
        if got.output is not None and not close(got.output, expected):
            # The statistics differ because the forward computation does: name that mistake.
            mid = pick(ctx, matching_mistakes(got.output.float(), w, x, 2, True)) if got.output.shape == expected.shape else None
            mid = mid or ctx.memo.get("diagnosis") or "main_path_wrong"
            ctx.fail(result.message + " Your forward's output is wrong too, and batch norm sees what your block "
                     "computes; fix the output first (see the other checks).", mid)
        ctx.fail(result.message + " Each of the three batch norms (bn1, bn2 and the shortcut's) must normalise its "
                 "convolution's output, once per forward, with the default momentum.", "running_stats_wrong")


@check("the projection: with the main path silenced the block returns g(W_s a[l])", points=1, visibility="visible")
def projection_argument(ctx: Context) -> None:
    def silence_main(ref: torch.nn.Module) -> None:
        ref.bn2.weight.zero_()
        ref.bn2.bias.zero_()

    student, ref = setup(ctx, 3, 6, 2, tweak=silence_main)
    lesson = ("With bn2's weight and bias at 0 the main path contributes z[l+2] = 0, so the block must return "
              "g(W_s a[l]) = ReLU(BN_s(conv_1x1(x))): the input, projected to the new shape by the shortcut alone.")
    x = ctx.randn(2, 3, 7, 7)  # negative values included on purpose
    for train in (False, True):  # eval first: it leaves the running statistics as loaded
        expect_output(ctx, student, ref, x, 2, train=train,
                      what=f"main path silenced, {'training' if train else 'eval'} mode", lesson=lesson)


@check("works for stride 1, with and without a channel change", points=1)
def stride_one(ctx: Context) -> None:
    for cin, cout, shape, train in ((3, 6, (2, 3, 7, 7), True), (4, 4, (2, 4, 5, 6), False)):
        student, ref = setup(ctx, cin, cout, 1)
        mode = "training" if train else "eval"
        expect_output(ctx, student, ref, ctx.randn(*shape), 1, train=train,
                      what=f"{_label(cin, cout, 1)}, {shape[2]}x{shape[3]}, {mode} mode")


@check("works for odd sizes, 1x1 images, batch size 1 and stride 3", points=1)
def odd_sizes(ctx: Context) -> None:
    cases = [(2, 4, 2, (3, 2, 7, 5), True, "odd size 7x5, training mode"),
             (2, 4, 2, (1, 2, 1, 1), False, "batch size 1, 1x1 image, eval mode"),
             (2, 4, 2, (2, 2, 1, 9), True, "a 1x9 image, training mode"),
             (3, 5, 3, (2, 3, 8, 7), True, "stride 3, 8x7, training mode")]
    for cin, cout, s, shape, train, what in cases:
        student, ref = setup(ctx, cin, cout, s)
        expect_output(ctx, student, ref, ctx.randn(*shape), s, train=train, what=f"{_label(cin, cout, s)}, {what}")


def _grad_of(ref: torch.nn.Module, x: torch.Tensor, g: torch.Tensor, *, cut: str = "") -> torch.Tensor:
    xr = x.clone().requires_grad_(True)
    main_in = xr.detach() if cut == "main" else xr
    short_in = xr.detach() if cut == "shortcut" else xr
    main = ref.bn2(ref.conv2(F.relu(ref.bn1(ref.conv1(main_in)))))
    F.relu(main + ref.shortcut_bn(ref.shortcut_conv(short_in))).backward(g)
    return xr.grad if xr.grad is not None else torch.zeros_like(x)


def _state_dict_copy(ref: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in ref.state_dict().items()}


@check("the gradient reaches the input through the main path and the shortcut", points=1)
def gradient_paths(ctx: Context) -> None:
    # 1) Main path silenced (bn2's gamma = 0): the only way back to x is through W_s.
    def silence_main(ref: torch.nn.Module) -> None:
        ref.bn2.weight.zero_()

    student, ref = setup(ctx, 3, 6, 2, tweak=silence_main)
    student.train()
    ref.train()
    x = ctx.randn(2, 3, 6, 6)
    g = ctx.randn(2, 6, 3, 3)
    fwd = forward_or_explain(ctx, student, ref, x, 2, "main path silenced", requires_grad=True)
    if fwd.output is None:
        ctx.fail(f"forward() returned a {fwd.output_type}, not a tensor.", "wrong_output_type")
    back = student.backward(g) if fwd.output.shape == g.shape else None
    before = _state_dict_copy(ref)
    with torch.no_grad():
        forward_ok = close(fwd.output, ref(x))
    ref.load_state_dict(before)
    if back is not None and not back.output_requires_grad:
        ctx.fail("Your block's output does not track gradients at all (is forward() running under torch.no_grad(), "
                 "or rebuilding tensors from numbers?).", "shortcut_detached")
    if back is None or not forward_ok:
        ctx.fail("The gradient cannot be right because the forward computation is not (see the other checks).",
                 ctx.memo.get("diagnosis") or "main_path_wrong")
    expected = _grad_of(ref, x, g)
    got = back.input_grad
    if got is None or float(got.abs().max()) == 0.0:
        ctx.fail("With the main path's last batch norm silenced (gamma = 0) no gradient reaches the input. The "
                 "shortcut W_s must pass the gradient back to x: that direct path is what lets very deep networks "
                 "train.", "shortcut_detached")
    result = compare(got, expected, what="gradient with respect to the input (main path silenced)")
    if not result.ok:
        ctx.fail(result.message + " Your forward values are right, so the gradient through the shortcut is being "
                 "cut or changed somewhere (detach(), .data, torch.no_grad()).", "shortcut_detached")

    # 2) All weights random: the full input gradient, main path and shortcut together.
    student2, ref2 = setup(ctx, 3, 6, 2)
    student2.train()
    ref2.train()
    x2 = ctx.randn(2, 3, 6, 6)
    g2 = ctx.randn(2, 6, 3, 3)
    fwd2 = forward_or_explain(ctx, student2, ref2, x2, 2, "all weights random", requires_grad=True)
    back2 = student2.backward(g2)
    state = _state_dict_copy(ref2)
    expected2 = _grad_of(ref2, x2, g2)
    got2 = back2.input_grad
    if got2 is None:
        ctx.fail("No gradient reached the input.", "shortcut_detached")
    result = compare(got2, expected2, what="gradient with respect to the input")
    if result.ok:
        return
    ref2.load_state_dict(state)
    only_main = _grad_of(ref2, x2, g2, cut="shortcut")
    ref2.load_state_dict(state)
    only_short = _grad_of(ref2, x2, g2, cut="main")
    if close(got2, only_main, rtol=1e-4, atol=1e-4):
        ctx.fail(result.message + " It equals the gradient through the main path alone: the shortcut is detached "
                 "from the graph.", "shortcut_detached")
    if close(got2, only_short, rtol=1e-4, atol=1e-4):
        ctx.fail(result.message + " It equals the gradient through the shortcut alone: the main path's input is "
                 "detached from the graph, so its layers cannot pass gradients back to earlier blocks.",
                 "main_path_wrong")
    ref2.load_state_dict(state)
    with torch.no_grad():
        fwd_ok = fwd2.output is not None and close(fwd2.output, ref2(x2))
    if fwd_ok:
        ctx.fail(result.message + " Your forward values are right, so the gradient is being cut or changed "
                 "somewhere (detach(), .data, torch.no_grad()).", "shortcut_detached")
    ctx.fail(result.message + " The gradient is wrong because the forward computation is (see the other checks).",
             ctx.memo.get("diagnosis") or "main_path_wrong")

"""Hidden checks for the identity block. Trusted: they run in the worker, OUTSIDE the sandbox.

Every numeric check copies a randomised reference's weights into the student's block (registration
order), feeds the same input to both, and compares. When the output is wrong, the student's output
is matched against what each known mistake would produce, so the feedback can name it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from grader.blockkit import adapted_state, clone_state, compare_structure, match_variant, randomize_, structure_or_fail
from grader.checklib import Context, ForwardResult, RemoteModule, check
from grader.sandbox.pool import StudentError
from grader.compare import compare

MOMENTUM = 0.1
EPS = 1e-5


def _bn(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, rm: torch.Tensor, rv: torch.Tensor, train: bool) -> torch.Tensor:
    return F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=train, momentum=MOMENTUM, eps=EPS)


def mistake_outputs(ref: torch.nn.Module, x: torch.Tensor, k: int, train: bool) -> dict[str, torch.Tensor]:
    """What each known mistake outputs with the reference's weights (first match wins: order matters)."""
    (w1, g1, b1, w2, g2, b2) = [p.detach() for p in ref.parameters()]
    (rm1, rv1, _, rm2, rv2, _) = [b.detach() for b in ref.buffers()]
    pad = k // 2

    def main(inp: torch.Tensor, order: str = "cbr", bn_train: bool = train) -> torch.Tensor:
        c1 = F.conv2d(inp, w1, padding=pad)
        h = F.relu(_bn(c1, g1, b1, rm1, rv1, bn_train)) if order == "cbr" else _bn(F.relu(c1), g1, b1, rm1, rv1, bn_train)
        return _bn(F.conv2d(h, w2, padding=pad), g2, b2, rm2, rv2, bn_train)

    m = main(x)
    candidates = {
        "shortcut_missing": lambda: F.relu(m),
        "shortcut_after_final_relu": lambda: F.relu(m) + x,
        "relu_before_add": lambda: F.relu(F.relu(m) + x),
        "missing_final_relu": lambda: m + x,
        "batchnorm_order": lambda: F.relu(main(x, "crb") + x),
        # ReLU(inplace=True) (or x.relu_()) on the input before the main path: the shortcut adds relu(x).
        "inplace_overwrites_input": lambda: F.relu(main(F.relu(x)) + F.relu(x)),
        # Batch norm in the other mode: running statistics while training, batch statistics in eval.
        "eval_mode_wrong": lambda: F.relu(main(x, bn_train=not train) + x),
    }
    out: dict[str, torch.Tensor] = {}
    for mid, fn in candidates.items():
        try:
            out[mid] = fn()
        except (RuntimeError, ValueError):  # e.g. batch statistics of a single value: that mistake cannot occur here
            pass
    return out


def setup(ctx: Context, channels: int, k: int | None = None) -> tuple[RemoteModule, torch.nn.Module]:
    """A student block and a randomised reference with the same weights copied in."""
    kernel = 3 if k is None else k
    ref = randomize_(ctx.fresh_reference("IdentityBlock", channels, kernel), ctx.generator)
    student = ctx.construct(channels) if k is None else ctx.construct(channels, k)
    report = structure_or_fail(ctx, student, ref)
    params, buffers = adapted_state(report, ref, student)
    student.load_state(params, buffers)
    return student, ref


def expect_output(ctx: Context, student: RemoteModule, ref: torch.nn.Module, x: torch.Tensor, k: int, *,
                  train: bool, what: str) -> None:
    """Forward both; on a mismatch, name the mistake whose output the student's matches."""
    student.train(train)
    ref.train(train)
    got = forward_or_explain(ctx, student, x, k, what)
    with torch.no_grad():
        expected = ref(x)
    float_output(ctx, got)
    if got.output.shape != expected.shape:
        mids = ["wrong_padding"] if got.output.shape[:2] == expected.shape[:2] else ["shape_changed"]
        ctx.fail(f"For an input of shape {tuple(x.shape)} ({what}), your block returned shape "
                 f"{tuple(got.output.shape)}; expected {tuple(expected.shape)}.", *mids)
    result = compare(got.output, expected, what=f"output ({what})")
    if not result.ok:
        if not torch.isfinite(got.output).all():
            ctx.fail(result.message, "nonfinite_output")
        # Only a wrong output pays for computing what each known mistake would have produced.
        mid = match_variant(got.output, mistake_outputs(ref, x, k, train))
        if mid:
            ctx.memo.setdefault("diagnosis", mid)
        ctx.fail(result.message + (" Your output is exactly what that mistake produces." if mid else ""),
                 *([mid] if mid else ["main_path_wrong"]))
    if got.input_changed:
        ctx.fail(f"The output is right, but your forward() changed its input tensor in place ({what}). The caller's "
                 f"tensor (and any shortcut that still needs it) must stay untouched.", "inplace_overwrites_input")


def float_output(ctx: Context, got: ForwardResult) -> torch.Tensor:
    """The output as a float32 tensor, or a named failure: checks compare only float32 tensors."""
    if got.output is None:
        ctx.fail(f"forward() returned a {got.output_type}, not a tensor.", "wrong_output_type")
    if got.output.dtype != torch.float32:
        ctx.fail(f"forward() returned a tensor of dtype {got.output.dtype}; the block must keep float32 (the input's "
                 f"dtype). Avoid .double(), .long(), comparisons or integer arithmetic on the output.", "wrong_output_type")
    return got.output


def forward_or_explain(ctx: Context, student: RemoteModule, x: torch.Tensor, k: int, what: str,
                       *, requires_grad: bool = False) -> ForwardResult:
    """forward(), turning the typical 'sizes do not match at the add' crash into the padding lesson."""
    try:
        return student.forward(x, requires_grad=requires_grad)
    except StudentError as exc:
        if "size of tensor" in exc.message or "must match the size" in exc.message:
            ctx.fail(f"For an input of shape {tuple(x.shape)} ({what}) your forward() failed where two tensors of "
                     f"different shapes meet:\n{exc.describe()}\nWith kernel_size={k} each convolution needs "
                     f"padding={k // 2} so that z[l+2] keeps the shape of a[l].", "wrong_padding")
        raise


@check("output keeps the input's shape", points=1, visibility="visible")
def output_shape(ctx: Context) -> None:
    student = ctx.construct(4)
    x = ctx.randn(2, 4, 8, 8)
    got = student.forward(x)
    if got.output is None:
        ctx.fail(f"forward() returned a {got.output_type}; it must return one tensor.", "wrong_output_type")
    if tuple(got.output.shape) != (2, 4, 8, 8):
        mids = ["wrong_padding"] if tuple(got.output.shape[:2]) == (2, 4) else ["shape_changed"]
        ctx.fail(f"For an input of shape (2, 4, 8, 8) your block returned shape {tuple(got.output.shape)}. "
                 f"An identity block must keep (N, C, H, W) so that z[l+2] and a[l] can be added.", *mids)
    if got.output.dtype != torch.float32:
        ctx.fail(f"The output has dtype {got.output.dtype}; expected torch.float32.", "wrong_output_type")


@check("layers follow the spec (conv1, bn1, conv2, bn2, no conv bias) and forward runs", points=1,
       visibility="visible")
def layer_structure(ctx: Context) -> None:
    for channels, k in ((4, 3), (3, 5)):
        ref = ctx.fresh_reference("IdentityBlock", channels, k)
        student = ctx.construct(channels, k)
        report = compare_structure(student, ref)
        if not report.ok:
            ctx.fail(f"For IdentityBlock({channels}, kernel_size={k}): {report.message}", *report.misconceptions)
        forward_or_explain(ctx, student, ctx.randn(2, channels, 6, 6), k, f"{channels} channels, kernel_size={k}")


@check("matches the reference in training mode", points=2)
def matches_train(ctx: Context) -> None:
    student, ref = setup(ctx, 4)
    x = ctx.randn(4, 4, 8, 8)
    expect_output(ctx, student, ref, x, 3, train=True, what="training mode, 4 channels, 8x8")


@check("updates the batch-norm running statistics like the reference", points=1)
def running_stats(ctx: Context) -> None:
    student, ref = setup(ctx, 4)
    x = ctx.randn(4, 4, 6, 6) * 2 + 0.5
    student.train()
    ref.train()
    student.forward(x)
    with torch.no_grad():
        ref(x)
    _, got_buffers = student.state()
    _, exp_buffers = clone_state(ref)
    names = [b.name for b in student.buffers]
    for name, got, exp in zip(names, got_buffers, exp_buffers):
        if got.dtype == torch.int64:
            if int(got.reshape(-1)[0]) != int(exp.reshape(-1)[0]):
                ctx.fail(f"After one training-mode forward, {name} is {int(got.reshape(-1)[0])}, expected "
                         f"{int(exp.reshape(-1)[0])}: each batch norm must run exactly once per forward.",
                         "running_stats_wrong")
            continue
        result = compare(got, exp, what=f"buffer {name} after one training-mode forward", dims=None)
        if not result.ok:
            ctx.fail(result.message + " Batch norm must normalise its convolution's output, once per forward, "
                     "with the default momentum.", "running_stats_wrong")


@check("matches the reference in evaluation mode", points=1)
def matches_eval(ctx: Context) -> None:
    student, ref = setup(ctx, 4)
    x = ctx.randn(3, 4, 8, 8)
    expect_output(ctx, student, ref, x, 3, train=False, what="eval mode, 4 channels, 8x8")


@check("the identity argument: with bn2's weight and bias at 0 the block returns ReLU(x)", points=1,
       visibility="visible")
def identity_argument(ctx: Context) -> None:
    ref = randomize_(ctx.fresh_reference("IdentityBlock", 4, 3), ctx.generator)
    student = ctx.construct(4)
    report = structure_or_fail(ctx, student, ref)
    with torch.no_grad():
        ref.conv2.weight.zero_()
        ref.bn2.weight.zero_()
        ref.bn2.bias.zero_()
    params, buffers = adapted_state(report, ref, student)
    student.load_state(params, buffers)
    x = ctx.randn(2, 4, 7, 7)  # negative values included on purpose
    for train in (True, False):
        student.train(train)
        got = student.forward(x)
        float_output(ctx, got)
        expected = F.relu(x)
        result = compare(got.output, expected, what="output with the last layer zeroed")
        if result.ok:
            continue
        if got.output.shape == x.shape and torch.allclose(got.output, x, atol=1e-5):
            mid = ctx.memo.get("diagnosis") if ctx.memo.get("diagnosis") in ("missing_final_relu",) else "shortcut_after_final_relu"
            ctx.fail("With the last layer's weights and biases at 0 your block returns x itself, negative values "
                     "included. The lecture's a[l+2] = g(z[l+2] + a[l]) gives g(a[l]) = ReLU(x).", mid)
        if got.output.shape == x.shape and float(got.output.abs().max()) < 1e-6:
            ctx.fail("With the last layer's weights and biases at 0 your block returns all zeros: nothing of the "
                     "input reaches the output, so the block cannot express the identity.", "shortcut_missing")
        ctx.fail(result.message + " With z[l+2] = 0 a residual block must give g(a[l]) = ReLU(x).",
                 "identity_needs_unit_weights")


@check("the gradient reaches the input through the shortcut", points=1)
def gradient_through_shortcut(ctx: Context) -> None:
    # 1) With the main path silenced (bn2's gamma = 0) the only way back to x is the shortcut.
    ref = randomize_(ctx.fresh_reference("IdentityBlock", 3, 3), ctx.generator)
    student = ctx.construct(3)
    report = structure_or_fail(ctx, student, ref)
    with torch.no_grad():
        ref.bn2.weight.zero_()
    params, buffers = adapted_state(report, ref, student)
    student.load_state(params, buffers)
    student.train()
    x = ctx.randn(2, 3, 6, 6)
    g = ctx.randn(2, 3, 6, 6)
    fwd = student.forward(x, requires_grad=True)
    float_output(ctx, fwd)
    if fwd.output.shape != x.shape:
        ctx.fail(f"For an input of shape {tuple(x.shape)} your block returned shape {tuple(fwd.output.shape)}.",
                 "shape_changed")
    back = student.backward(g)
    if not back.output_requires_grad:
        ctx.fail("Your block's output does not track gradients at all (is forward() running under torch.no_grad(), "
                 "or rebuilding tensors from numbers?).", "shortcut_detached")
    xr = x.clone().requires_grad_(True)
    ref.train()
    ref(xr).backward(g)
    expected = xr.grad
    assert expected is not None
    got = back.input_grad
    if got is None or float(got.abs().max()) == 0.0:
        with torch.no_grad():
            ref_out = ref(x)
        out_ok = fwd.output.shape == x.shape and torch.allclose(fwd.output, ref_out, atol=1e-4)
        ctx.fail("With the main path's last batch norm silenced (gamma = 0) no gradient reaches the input. The "
                 "shortcut must pass the gradient straight back to x.",
                 "shortcut_detached" if out_ok else "shortcut_missing")
    result = compare(got, expected, what="gradient with respect to the input")
    if not result.ok:
        with torch.no_grad():
            forward_ok = torch.allclose(fwd.output, ref(x), atol=1e-4, rtol=1e-4) if fwd.output.shape == x.shape else False
        if forward_ok:
            ctx.fail(result.message + " Your forward values are right, so the gradient is being cut somewhere "
                     "(detach(), .data, torch.no_grad()).", "shortcut_detached")
        ctx.fail(result.message + " The gradient is wrong because the forward computation is (see the other checks).",
                 ctx.memo.get("diagnosis") or "main_path_wrong")

    # 2) With all weights random, the full input gradient matches the reference's.
    student2, ref2 = setup(ctx, 3)
    student2.train()
    ref2.train()
    x2 = ctx.randn(2, 3, 6, 6)
    g2 = ctx.randn(2, 3, 6, 6)
    student2.forward(x2, requires_grad=True)
    back2 = student2.backward(g2)
    xr2 = x2.clone().requires_grad_(True)
    ref2(xr2).backward(g2)
    # What the gradient would be if the shortcut were detached: through the main path only.
    detached = x2.clone().requires_grad_(True)
    out_d = ref2_forward_detached(ref2, detached)
    out_d.backward(g2)
    got2 = back2.input_grad
    if got2 is None:
        ctx.fail("No gradient reached the input.", "shortcut_detached")
    result = compare(got2, xr2.grad, what="gradient with respect to the input")
    if not result.ok:
        if detached.grad is not None and torch.allclose(got2, detached.grad, atol=1e-4, rtol=1e-4):
            ctx.fail(result.message + " It equals the gradient through the main path alone: the shortcut is "
                     "detached from the graph.", "shortcut_detached")
        ctx.fail(result.message, ctx.memo.get("diagnosis") or "main_path_wrong")


def ref2_forward_detached(ref: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = F.relu(ref.bn1(ref.conv1(x)))
    out = ref.bn2(ref.conv2(out))
    return F.relu(out + x.detach())


@check("works for kernel sizes 1, 3, 5 and 7", points=1)
def kernel_sizes(ctx: Context) -> None:
    for k in (1, 3, 5, 7):
        student, ref = setup(ctx, 3, k)
        x = ctx.randn(2, 3, 9, 9)
        expect_output(ctx, student, ref, x, k, train=True, what=f"kernel_size={k}, 9x9")


@check("works for batch size 1, 1x1 images and odd sizes", points=1)
def small_and_odd_sizes(ctx: Context) -> None:
    cases = [((1, 2, 1, 1), False, "batch size 1, 1x1 image, eval mode"),
             ((1, 2, 5, 5), True, "batch size 1, 5x5, training mode"),
             ((3, 2, 7, 5), True, "odd size 7x5, training mode"),
             ((2, 2, 1, 9), False, "a 1x9 image, eval mode")]
    for shape, train, what in cases:
        student, ref = setup(ctx, 2)
        expect_output(ctx, student, ref, ctx.randn(*shape), 3, train=train, what=what)

"""Hidden checks for the degradation experiment. Trusted: they run in the worker, OUTSIDE the sandbox.

The student's `make_net(depth, residual)` lives in the sandbox. The trusted side
  * builds the dataset (scikit-learn's load_digits, offline) and sends it as tensors,
  * replaces the student's initialisation by PyTorch's default initialisation drawn from a fixed
    seed HERE (the sandbox's RNG is seeded randomly per job), the same weights for the plain and
    the residual net, so the comparison is fair and a regrade gives the same numbers,
  * lets the sandbox run the runner's fixed recipe (SGD + momentum, cross-entropy, seeded
    mini-batches) in chunks, reporting progress between them,
  * measures each trained net's final training loss itself: one forward of the whole training set,
    cross-entropy computed here. The forward is in TRAINING mode (batch statistics of the whole
    set): that is the objective the optimiser minimised. After 150 steps the batch-norm running
    averages (momentum 0.1) still lag the weights, and in a deep plain net that lag alone can
    multiply the loss (measured while tuning, train-mode -> eval-mode loss of the same trained
    plain net: 1.26 -> 2.15 at 16 blocks, 0.57 -> 3.49 at 12 blocks x 16 channels), which would
    grade the running-average bookkeeping instead of the optimisation the lecture is about.

The budget lives in exercise.toml's [train] table (Exercise.extra["train"]); tests use a smaller copy.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from grader.checklib import CheckFailed, Context, ExerciseBug, RemoteModule, StudentError, TensorSpec, check


N_CLASSES = 10


@dataclass(frozen=True)
class Budget:
    depth: int = 16
    steps: int = 150
    batch_size: int = 64
    lr: float = 0.05
    chunk: int = 25
    check_depth: int = 3
    param_ratio: tuple[float, float] = (0.5, 2.0)
    max_ratio: float = 0.5
    min_gap: float = 0.2
    learned: float = 1.0
    init_seed: int = 1234  # initial weights (the same for both nets)
    data_seed: int = 7  # mini-batch order (the runner's per-step generator)


def budget(ctx: Context) -> Budget:
    raw = dict(ctx.exercise.extra.get("train", {}))
    known = {f.name for f in fields(Budget)}
    unknown = set(raw) - known
    if unknown:
        raise ExerciseBug(f"exercise.toml [train] has unknown key(s): {', '.join(sorted(unknown))}")
    if "param_ratio" in raw:
        raw["param_ratio"] = tuple(float(v) for v in raw["param_ratio"])
    return Budget(**raw)


# ---- data --------------------------------------------------------------------------------------
_DATA: tuple[torch.Tensor, torch.Tensor] | None = None


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The whole load_digits set (1797 images, 8x8, scaled to [0, 1]) is the training set."""
    global _DATA
    if _DATA is None:
        from sklearn.datasets import load_digits  # ships with scikit-learn: no download

        d = load_digits()
        x = torch.tensor(d.data, dtype=torch.float32).view(-1, 1, 8, 8) / 16.0
        y = torch.tensor(d.target, dtype=torch.int64)
        _DATA = (x, y)
    return _DATA


# ---- structure of the student's net, from the data the sandbox reports ------------------------
def n_params(net: RemoteModule) -> int:
    return sum(math.prod(p.shape) for p in net.params)


def reference_params(ctx: Context, depth: int) -> int:
    key = f"reference_params_{depth}"
    if key not in ctx.memo:
        ctx.memo[key] = sum(p.numel() for p in ctx.reference.make_net(depth, True).parameters())
    return int(ctx.memo[key])


def size_or_fail(
    ctx: Context,
    net: RemoteModule,
    depth: int,
    residual: bool,
    after: str = "",
    ratio: tuple[float, float] | None = None,
) -> int:
    """The parameter count, within the budget (also checked before the trusted side allocates
    tensors of the shapes the sandbox reports)."""
    lo, hi = ratio or budget(ctx).param_ratio
    ref = reference_params(ctx, depth)
    if any(d < 0 for p in net.params for d in p.shape):
        ctx.fail(f"make_net({depth}, {residual}) reports a parameter with a negative size.", "net_size_out_of_budget")
    n = n_params(net)
    if not lo * ref <= n <= hi * ref:
        size = "too large" if n > hi * ref else "too small"
        ctx.fail(
            f"make_net({depth}, {residual}) has {n:,} parameters, which is {size}: the budget is "
            f"{math.ceil(lo * ref):,} to {math.floor(hi * ref):,} (the reference has {ref:,}). Use 8 channels in "
            f"the stem and in every block, 3x3 convolutions without bias, and a Linear(8, 10) head.{after}",
            "net_size_out_of_budget",
        )
    return n


def find_blocks(net: RemoteModule) -> list[tuple[str, str]]:
    """(block name, name of its LAST batch norm) for every block, in registration order.

    A block is the largest submodule that contains exactly two BatchNorm2d layers; its last one
    (in registration order) is the batch norm right before the add.
    """
    bns = [name for name, kind in net.submodules if kind == "BatchNorm2d"]
    count: dict[str, int] = {}
    for bn in bns:
        parts = bn.split(".")
        for i in range(len(parts)):  # "" (the net itself) and every proper ancestor
            anc = ".".join(parts[:i])
            count[anc] = count.get(anc, 0) + 1

    def parent(name: str) -> str | None:
        return None if name == "" else name.rpartition(".")[0]

    blocks = [m for m, c in count.items() if c == 2 and (parent(m) is None or count.get(parent(m), 0) != 2)]
    out = []
    for m in blocks:
        inside = [bn for bn in bns if m == "" or bn.startswith(m + ".")]
        out.append((m, inside[-1], bns.index(inside[0])))
    return [(m, last) for m, last, _ in sorted(out, key=lambda t: t[2])]


def blocks_or_fail(ctx: Context, net: RemoteModule, depth: int, residual: bool) -> list[tuple[str, str]]:
    blocks = find_blocks(net)
    if len(blocks) != depth:
        n_bn = sum(kind == "BatchNorm2d" for _, kind in net.submodules)
        ctx.fail(
            f"make_net({depth}, {residual}) has {len(blocks)} block(s) that the grader can recognise "
            f"({n_bn} BatchNorm2d layers in all); expected {depth}. Each block must be its own nn.Module "
            f"holding its two BatchNorm2d layers (bn1 and bn2), and `depth` must be the number of blocks.",
            "depth_ignored",
        )
    return blocks


def default_init(net: RemoteModule, seed: int) -> list[torch.Tensor]:
    """PyTorch's default initialisation for every parameter, drawn here from a fixed seed.

    Conv/Linear weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5),
    as nn.Conv2d/nn.Linear do); normalisation layers: weight 1, bias 0; anything else by its shape.
    """
    g = torch.Generator().manual_seed(seed)
    kinds = dict(net.submodules)
    specs = {p.name: p for p in net.params}
    out = []
    for p in net.params:
        owner, _, leaf = p.name.rpartition(".")
        kind = kinds.get(owner, "")
        weight = specs.get(f"{owner}.weight") if owner else None
        if "Norm" in kind:
            t = torch.ones(p.shape) if leaf == "weight" else torch.zeros(p.shape)
        elif len(p.shape) >= 2:
            t = _uniform(p.shape, math.prod(p.shape[1:]), g)
        elif leaf == "bias" and weight is not None and len(weight.shape) >= 2:
            t = _uniform(p.shape, math.prod(weight.shape[1:]), g)
        elif "bias" in leaf or "beta" in leaf:
            t = torch.zeros(p.shape)
        else:
            t = torch.ones(p.shape)
        out.append(t.to(_dtype(p)))
    return out


def _uniform(shape: tuple[int, ...], fan_in: int, g: torch.Generator) -> torch.Tensor:
    bound = 1.0 / math.sqrt(max(fan_in, 1))
    return torch.rand(shape, generator=g) * (2 * bound) - bound


def _dtype(spec: TensorSpec) -> torch.dtype:
    return getattr(torch, spec.dtype, torch.float32)


def fresh_buffers(net: RemoteModule) -> list[torch.Tensor]:
    return net.state()[1]


def same_shapes(a: RemoteModule, b: RemoteModule) -> bool:
    return [p.shape for p in a.params] == [p.shape for p in b.params] and [x.shape for x in a.buffers] == [
        x.shape for x in b.buffers
    ]


def logits(ctx: Context, net: RemoteModule, x: torch.Tensor, what: str) -> torch.Tensor:
    got = net.forward(x)
    if got.output is None:
        ctx.fail(
            f"{what} returned a {got.output_type}; the network must return one tensor of logits.", "wrong_output_type"
        )
    out = got.output
    if tuple(out.shape) != (x.shape[0], N_CLASSES):
        ctx.fail(
            f"For an input of shape {tuple(x.shape)}, {what} returned shape {tuple(out.shape)}; expected "
            f"({x.shape[0]}, {N_CLASSES}): one logit per digit class for every image.",
            "net_output_shape",
        )
    if not out.dtype.is_floating_point:
        ctx.fail(f"{what} returned dtype {out.dtype}; logits are float32.", "wrong_output_type")
    if not torch.isfinite(out).all():
        ctx.fail(f"{what} returned NaN or infinite logits for ordinary digit images.", "nonfinite_output")
    return out.float()


def constant_over_batch(out: torch.Tensor) -> bool:
    spread = (out - out[:1]).abs().max().item()
    return spread <= 1e-6 * (1.0 + out.abs().max().item())


# ---- checks ------------------------------------------------------------------------------------
@check(
    "make_net builds a plain and a residual net that map (N, 1, 8, 8) digits to (N, 10) logits",
    points=1,
    visibility="visible",
)
def builds_both(ctx: Context) -> None:
    x = digits()[0][:5]
    for residual in (True, False):
        net = ctx.construct(2, residual)
        if not net.params:
            ctx.fail(f"make_net(2, {residual}) has no parameters: it cannot learn anything.", "net_size_out_of_budget")
        logits(ctx, net, x, f"make_net(2, {residual})")


@check(
    "the plain net is the residual net without shortcuts: same layers, same parameter count",
    points=1,
    visibility="visible",
)
def same_layers(ctx: Context) -> None:
    for depth in (2, budget(ctx).check_depth):
        res, plain = ctx.construct(depth, True), ctx.construct(depth, False)
        nr, np_ = n_params(res), n_params(plain)
        if nr != np_:
            ctx.fail(
                f"make_net({depth}, True) has {nr:,} parameters but make_net({depth}, False) has {np_:,}. The plain "
                f"net must be exactly the residual net with the shortcuts removed (a shortcut adds no "
                f"parameters), otherwise the experiment compares two different networks.",
                "plain_net_differs",
            )
        if not same_shapes(res, plain):
            ctx.fail(
                f"make_net({depth}, True) and make_net({depth}, False) have the same number of parameters, but "
                f"their layers differ (shapes or order of parameters and buffers). Build both from the same "
                f"layers and only leave out the '+ x' in the plain blocks.",
                "plain_net_differs",
            )


@check(
    "depth sets the number of blocks, and the deep net stays within the parameter budget",
    points=1,
    visibility="visible",
)
def depth_and_size(ctx: Context) -> None:
    b = budget(ctx)
    for depth in (1, b.check_depth):
        blocks_or_fail(ctx, ctx.construct(depth, True), depth, True)
    net = ctx.construct(b.depth, True)
    blocks_or_fail(ctx, net, b.depth, True)
    size_or_fail(ctx, net, b.depth, True)


@check(
    "residual=True adds the shortcuts, residual=False removes them (last batch norm of every block at zero)",
    points=2,
    visibility="visible",
)
def flag_changes_forward(ctx: Context) -> None:
    depth = budget(ctx).check_depth
    x = digits()[0][:16]
    res, plain = ctx.construct(depth, True), ctx.construct(depth, False)
    if not same_shapes(res, plain):
        ctx.fail(
            "The plain and residual nets have different layers, so they cannot be given the same weights "
            "(see the check on parameter counts).",
            "plain_net_differs",
        )
    size_or_fail(ctx, res, depth, True, ratio=(0.0, 50.0))  # only absurd sizes: the budget has its own check
    blocks_r = blocks_or_fail(ctx, res, depth, True)
    blocks_p = blocks_or_fail(ctx, plain, depth, False)
    params = default_init(res, budget(ctx).init_seed)
    buffers = fresh_buffers(res)
    # 1. Same weights, default initialisation: the two nets must compute different functions.
    for net in (res, plain):
        net.load_state(params, buffers)
        net.eval()  # running statistics (0, 1): deterministic, independent of the batch
    same = torch.allclose(
        logits(ctx, res, x, f"make_net({depth}, True)"),
        logits(ctx, plain, x, f"make_net({depth}, False)"),
        rtol=1e-5,
        atol=1e-6,
    )
    # 2. The last batch norm of every block at zero (weight and bias): z[l+2] = 0 in every block.
    base, r_const = _zero_last_bn(ctx, res, blocks_r, params, buffers, x, f"make_net({depth}, True)")
    p_const = _zero_last_bn(ctx, plain, blocks_p, params, buffers, x, f"make_net({depth}, False)")[1]
    ctx.memo["same_function"] = same
    lesson = (
        "With z[l+2] = 0 a residual block outputs g(0 + a[l]) = a[l] (the identity, because a[l] >= 0), "
        "so the residual net still computes head(stem(x)); a plain block outputs g(0) = 0, so the plain "
        "net's logits no longer depend on the image."
    )
    if same and r_const:
        ctx.fail(
            f"make_net({depth}, True) and make_net({depth}, False) compute the same function, and with the last "
            f"batch norm of every block at zero your 'residual' net's logits are the same for every image: it "
            f"has no shortcuts at all. {lesson}",
            "shortcut_missing",
            "residual_flag_ignored",
        )
    if same:
        ctx.fail(
            f"make_net({depth}, True) and make_net({depth}, False) compute the same function for the same "
            f"weights: the `residual` flag is ignored and both nets have shortcuts. {lesson}",
            "residual_flag_ignored",
        )
    if r_const and not p_const:
        ctx.fail(
            f"The flag works backwards: make_net({depth}, False) behaves like the residual net and "
            f"make_net({depth}, True) like the plain one. {lesson}",
            "residual_flag_ignored",
        )
    if r_const:
        ctx.fail(
            f"With the last batch norm of every block at zero, the logits of make_net({depth}, True) are the same "
            f"for every image: at least one of its blocks is not the identity, so its shortcut is missing (or is "
            f"added before the last batch norm, which then zeroes it too). {lesson}",
            "shortcut_missing",
        )
    if not p_const:
        ctx.fail(
            f"With the last batch norm of every block at zero, the logits of make_net({depth}, False) still "
            f"depend on the image: some of its blocks still add their input, so the plain net is not plain. "
            f"`residual=False` must remove every shortcut. {lesson}",
            "residual_flag_ignored",
        )
    # 3. The identity default: with bn2 at zero, the rest of each residual block does not matter.
    other = default_init(res, budget(ctx).init_seed + 1)
    prefixes = tuple(f"{name}." for name, _ in blocks_r if name)
    mixed = [o if p.name.startswith(prefixes) else q for p, q, o in zip(res.params, params, other)]
    moved = _zero_last_bn(ctx, res, blocks_r, mixed, buffers, x, f"make_net({depth}, True)")[0]
    if not torch.allclose(base, moved, rtol=1e-5, atol=1e-5):
        ctx.fail(
            f"With the last batch norm of every block at zero, the logits of make_net({depth}, True) still change "
            f"when the blocks' other weights change: its blocks are not the identity then. The block must output "
            f"ReLU(bn2(...) + x), so that bn2 = 0 leaves exactly ReLU(x) = x.",
            "identity_needs_unit_weights",
        )


def _zero_last_bn(
    ctx: Context,
    net: RemoteModule,
    blocks: list[tuple[str, str]],
    params: list[torch.Tensor],
    buffers: list[torch.Tensor],
    x: torch.Tensor,
    what: str,
) -> tuple[torch.Tensor, bool]:
    zero = {f"{bn}.weight" for _, bn in blocks} | {f"{bn}.bias" for _, bn in blocks}
    net.load_state([torch.zeros_like(t) if p.name in zero else t for p, t in zip(net.params, params)], buffers)
    net.eval()
    out = logits(ctx, net, x, what)
    return out, constant_over_batch(out)


# ---- the experiment ----------------------------------------------------------------------------
@dataclass
class Experiment:
    curves: dict[str, list[float | None]]
    final: dict[str, float]
    seconds: float


def experiment(ctx: Context) -> Experiment:
    """Train the deep plain and residual nets once; both experiment checks read the result."""
    if "experiment" in ctx.memo:
        result = ctx.memo["experiment"]
        if isinstance(result, CheckFailed):
            raise CheckFailed(f"Not run: {result.message}", result.misconceptions)
        if isinstance(result, StudentError):
            raise CheckFailed("Not run: training crashed in the previous check.", ["forward_crashed"])
        return result
    try:
        result = _run_experiment(ctx)
    except (CheckFailed, StudentError) as exc:
        ctx.memo["experiment"] = exc
        raise
    ctx.memo["experiment"] = result
    return result


def _run_experiment(ctx: Context) -> Experiment:
    b = budget(ctx)
    if ctx.memo.get("same_function"):
        ctx.fail(
            "the experiment needs two different networks, but make_net(d, True) and make_net(d, False) compute "
            "the same function (see the check on the residual flag). Nothing was trained.",
            "residual_flag_ignored",
        )
    x, y = digits()
    nets = {"plain": ctx.construct(b.depth, False), "residual": ctx.construct(b.depth, True)}
    if not same_shapes(nets["plain"], nets["residual"]):
        ctx.fail(
            "the plain and residual nets have different layers, so they cannot start from the same weights "
            "(see the check on parameter counts). Nothing was trained.",
            "plain_net_differs",
        )
    n = size_or_fail(ctx, nets["residual"], b.depth, True, after=" Nothing was trained.")
    params = default_init(nets["residual"], b.init_seed)
    for net in nets.values():
        net.load_state(params, fresh_buffers(net))

    started = time.monotonic()
    curves: dict[str, list[float | None]] = {"plain": [], "residual": []}
    ctx.extra["curves"] = curves
    ctx.extra["experiment"] = {
        "depth": b.depth,
        "steps": b.steps,
        "batch_size": b.batch_size,
        "lr": b.lr,
        "momentum": 0.9,
        "parameters": n,
        "train_examples": int(x.shape[0]),
        "device": ctx.device,
        "measured_in": "train mode, whole training set",
    }
    for start in range(0, b.steps, b.chunk):
        count = min(b.chunk, b.steps - start)
        for name, net in nets.items():
            losses = net.train_steps(
                x, y, steps=count, batch_size=b.batch_size, lr=b.lr, start_step=start, seed=b.data_seed
            )
            curves[name].extend(v if v >= 0 and math.isfinite(v) else None for v in losses)
            if ctx.progress:
                last = next((v for v in reversed(curves[name]) if v is not None), None)
                ctx.progress("train", {"net": name, "step": start + count, "total": b.steps, "loss": last})

    final: dict[str, float] = {}
    for name, net in nets.items():
        net.train()  # see the module docstring: the objective the optimiser minimised
        got = net.forward(x)
        out = got.output
        if out is None or tuple(out.shape) != (x.shape[0], N_CLASSES):
            ctx.fail(
                f"after training, the {name} net did not return ({x.shape[0]}, {N_CLASSES}) logits.", "net_output_shape"
            )
        loss = F.cross_entropy(out.double(), y).item()
        final[name] = loss if math.isfinite(loss) else math.inf
        # The runner keeps the last forward's output (and its autograd graph: ~0.5 GB for 1797 images
        # through 34 layers) for a backward that never comes. A tiny forward replaces it, so the two
        # nets' graphs are never alive at once.
        net.eval()
        net.forward(x[:2])
    seconds = time.monotonic() - started
    ctx.extra["final_loss"] = {k: (round(v, 6) if math.isfinite(v) else None) for k, v in final.items()}
    ctx.extra["experiment"]["seconds"] = round(seconds, 2)
    if ctx.progress:
        ctx.progress("measured", {"final_loss": ctx.extra["final_loss"]})
    return Experiment(curves, final, seconds)


@check("both deep nets train under the fixed recipe, and the residual net learns", points=1, visibility="visible")
def nets_train(ctx: Context) -> None:
    b = budget(ctx)
    e = experiment(ctx)
    res = e.final["residual"]
    for name, v in e.final.items():
        if not math.isfinite(v):
            ctx.fail(
                f"After training, the {name} net's training loss is NaN or infinite: training diverged.",
                "nonfinite_output",
            )
    if res > b.learned:
        ctx.fail(
            f"After {b.steps} steps the residual net's training loss is {res:.3f} (chance level is ln 10 = 2.303; "
            f"anything below {b.learned:g} passes, and the reference ends far below that). Something in it keeps it "
            f"from learning: check that every block adds its input before the final ReLU and that the head "
            f"pools and maps 8 channels to 10 logits.",
            "degradation_not_shown",
        )


@check(
    "the deep residual net reaches a clearly lower training loss than the deep plain net of the same depth",
    points=4,
    visibility="visible",
)
def residual_beats_plain(ctx: Context) -> None:
    b = budget(ctx)
    e = experiment(ctx)
    plain, res = e.final["plain"], e.final["residual"]
    summary = (
        f"Measured training loss after {b.steps} steps, {b.depth} blocks each: plain {plain:.3f}, residual {res:.3f}."
    )
    if not (math.isfinite(plain) and math.isfinite(res)):
        ctx.fail(f"{summary} A net diverged, so the experiment shows nothing.", "nonfinite_output")
    if not (res <= b.max_ratio * plain and plain - res >= b.min_gap):
        ctx.fail(
            f"{summary} The residual net must end clearly lower (at most {b.max_ratio:g} x the plain net's loss "
            f"and at least {b.min_gap:g} below it). With the same layers, weights and mini-batches, the only "
            f"difference should be the shortcuts, which let each block start as (close to) the identity.",
            "degradation_not_shown",
        )

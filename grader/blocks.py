"""Check families for module exercises (residual blocks, networks built by a function).

An exercise's checks.py describes its interface once, as data, and calls one family per check:

    from grader.blocks import Block, Config
    from grader.checklib import Context, check

    BLOCK = Block("IdentityBlock", default=Config((4,), shape=(4, 4, 8, 8)),
                  silence=lambda ref: ref.bn2.weight.zero_())        # the main path's last BN gamma

    @check("matches the reference in training mode", points=2)
    def matches_train(ctx: Context) -> None:
        BLOCK.check_matches(ctx, train=True)

Every numeric family copies a randomised reference's parameters and buffers into the student's
module (registration order), runs the same inputs through both in one round trip per module
(RemoteModule.run) and compares outputs, running statistics and gradients in the trusted process.
When something differs, the known mistakes in exercises/<slug>/mistakes/ (grader.mistakes) are run
with the same weights and inputs, and the first whose behaviour matches is named: the feedback
says which misconception produced the student's numbers. Structure comes from data the runner
returns about the constructed module (grader.inside.describe), never from its repr.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from grader.blockkit import randomize_
from grader.checklib import Context, RemoteModule, Step, StepResult, StudentError, TensorSpec, state_to_wire
from grader.compare import close, compare
from grader.inside.describe import describe_module
from grader.mistakes import Mistake, build, mistakes_of

__all__ = ["Block", "Config", "Domain", "DOMAINS", "Pair", "Tweak", "same_shape", "strided_shape"]

Tweak = Callable[[nn.Module], Any]  # changes a reference's weights in place (e.g. silences its main path)
Shape = tuple[int, ...]


@dataclass(frozen=True)
class Config:
    """One way to build the module (constructor arguments) and the input shape to feed it."""

    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    shape: Shape = (2, 4, 8, 8)

    def call(self, name: str) -> str:
        return f"{name}({', '.join([repr(a) for a in self.args] + [f'{k}={v!r}' for k, v in self.kwargs.items()])})"


@dataclass(frozen=True)
class Domain:
    """A region of the input space: any bug that changes the function anywhere must be seen."""

    name: str
    transform: Callable[[torch.Tensor], torch.Tensor]
    scale: float = 1.0  # the values' magnitude (tolerances scale with it)


# Training mode runs one forward per domain, the first TRAIN_DOMAINS (batch statistics couple the
# samples, and a module may branch on its batch); eval mode all of them in one forward.
TRAIN_DOMAINS = 4
DOMAINS: tuple[Domain, ...] = (
    Domain("unit Gaussian input", lambda x: x),
    Domain("large input values (about 1e3)", lambda x: x * 1e3, 1e3),
    Domain("all-negative input", lambda x: -x.abs() - 0.05),
    Domain("tiny input values (about 1e-3)", lambda x: x * 1e-3, 1e-3),
    Domain("all-positive input", lambda x: x.abs() + 0.05),
)


def same_shape(config: Config, shape: Shape) -> Shape:
    return shape


def strided_shape(
    channels_arg: int = 1, stride_arg: int = 2, stride_default: int = 1, channels_factor: int = 1
) -> Callable[[Config, Shape], Shape]:
    """Output shape (N, factor * args[channels_arg], ceil(H/s), ceil(W/s)), s = args[stride_arg]
    (or kwargs['stride'], or the default)."""

    def out_shape(config: Config, shape: Shape) -> Shape:
        s = config.args[stride_arg] if len(config.args) > stride_arg else config.kwargs.get("stride", stride_default)
        c = int(config.args[channels_arg]) * channels_factor
        return (shape[0], c, math.ceil(shape[2] / s), math.ceil(shape[3] / s))

    return out_shape


@dataclass
class Pair:
    """The student's module and a randomised reference holding the same parameters and buffers."""

    config: Config
    student: RemoteModule
    state: tuple[list[torch.Tensor], list[torch.Tensor]]  # the reference's, before any step
    label: str
    loaded: bool  # False when the student's parameters could not take the reference's values
    kind: str  # the solution module (one per exercise revision) and the reference class's module: in every cache key
    key: str = ""  # a digest of the reference's class, arguments and state (caches what it computes)
    built: nn.Module | None = None  # the reference module, once built
    build: Callable[[], nn.Module] | None = None  # builds it on first use (a prepared pair has none yet)

    @property
    def reference(self) -> nn.Module:
        """The randomised reference module holding `state` (built on first use for a prepared pair)."""
        if self.built is None:
            assert self.build is not None
            self.built = self.build()
        return self.built

    def state_key(self) -> str:
        if not self.key:
            self.key = _digest([*self.state[0], *self.state[1]], self.kind, self.label)
        return self.key

    def expected(self, step: Step) -> _Expected:
        """The reference's behaviour for the step, from the pair's state (computed once per worker:
        every grade replays the same seeded inputs and weights)."""
        full = "ref|" + self.state_key() + _digest([step.input, step.grad_output], step.train, step.buffers)
        cached = _OBSERVED.get(full)
        if not isinstance(cached, _Expected):
            cached = _trusted_step(self.reference, self.state, step)
            if len(_OBSERVED) >= _OBSERVED_MAX:
                _OBSERVED.pop(next(iter(_OBSERVED)))
            _OBSERVED[full] = cached
        return cached


@dataclass
class _Prepared:
    """A randomised reference's state as a grade reaching Block.pair with the same generator state,
    reference module, arguments and tweak computes it (the draws are deterministic): computed once
    per worker, with what the pair derives from it (its digest, its wire form)."""

    owners: tuple[Any, ...]  # the objects whose ids are in the key, kept alive so no id is reused
    state: tuple[list[torch.Tensor], list[torch.Tensor]]
    after: torch.Tensor  # the generator's state after the draws
    kind: str
    key: str
    wire: tuple[dict[str, Any], list[bytes]]
    nbytes: int


class _PreparedCache:
    """_Prepared entries by key, oldest dropped first past max_bytes (states of deep nets are large)."""

    def __init__(self, max_bytes: int) -> None:
        self.entries: dict[tuple[Any, ...], _Prepared] = {}
        self.nbytes = 0
        self.max_bytes = max_bytes

    def get(self, key: tuple[Any, ...]) -> _Prepared | None:
        return self.entries.get(key)

    def put(self, key: tuple[Any, ...], entry: _Prepared) -> None:
        if entry.nbytes > self.max_bytes:
            return
        while self.entries and self.nbytes + entry.nbytes > self.max_bytes:
            self.nbytes -= self.entries.pop(next(iter(self.entries))).nbytes
        old = self.entries.pop(key, None)
        self.nbytes += entry.nbytes - (old.nbytes if old is not None else 0)
        self.entries[key] = entry


_PREPARED = _PreparedCache(64 << 20)


@dataclass
class _Expected:
    output: torch.Tensor
    input_grad: torch.Tensor | None = None
    param_grads: list[torch.Tensor | None] = field(default_factory=list)
    buffers: list[torch.Tensor] = field(default_factory=list)


def _same_tensors(
    a: tuple[list[torch.Tensor], list[torch.Tensor]], b: tuple[list[torch.Tensor], list[torch.Tensor]]
) -> bool:
    return all(len(x) == len(y) and all(t is u for t, u in zip(x, y)) for x, y in zip(a, b))


def _load(module: nn.Module, params: Sequence[torch.Tensor], buffers: Sequence[torch.Tensor]) -> None:
    with torch.no_grad():
        for t, v in zip(module.parameters(), params):
            t.copy_(v)
        for b, v in zip(module.buffers(), buffers):
            b.copy_(v)


def _trusted_step(module: nn.Module, state: tuple[list[torch.Tensor], list[torch.Tensor]], step: Step) -> _Expected:
    """Replay one Step on a trusted module (the reference or a known mistake) from `state`."""
    # Steps never change parameters, and only training-mode steps change buffers: reload only what a
    # previous step may have changed (a grade replays dozens of steps on small modules).
    held = module.__dict__.get("_grader_holds")
    if held is None or held[0] is not state:
        _load(module, *state)
    elif held[1]:
        with torch.no_grad():
            for b, v in zip(module.buffers(), state[1]):
                b.copy_(v)
    module.__dict__["_grader_holds"] = (state, step.train)
    module.train(step.train)
    x = step.input.clone()
    if step.grad_output is None:
        with torch.no_grad():
            out = module(x)
        return _Expected(out, buffers=[b.detach().clone() for b in module.buffers()] if step.buffers else [])
    module.zero_grad(set_to_none=True)
    x.requires_grad_(True)
    out = module(x)
    out.backward(step.grad_output)
    return _Expected(
        out.detach(),
        x.grad,
        [None if p.grad is None else p.grad.clone() for p in module.parameters()],
        [b.detach().clone() for b in module.buffers()] if step.buffers else [],
    )


def _conv_bias_indices(specs: Sequence[TensorSpec] | Sequence[tuple[str, Shape]]) -> list[int]:
    """Indices of parameters that are a convolution's bias (named *.bias right after its 4-d weight)."""
    named = [(s.name, s.shape) if isinstance(s, TensorSpec) else s for s in specs]
    return [
        i
        for i, (n, shape) in enumerate(named)
        if i > 0
        and n.endswith("bias")
        and len(named[i - 1][1]) == 4
        and named[i - 1][0].rsplit(".", 1)[0] == n.rsplit(".", 1)[0]
    ]


def adapt_state(
    state: tuple[list[torch.Tensor], list[torch.Tensor]], params: Sequence[tuple[str, Shape]], buffers: Sequence[Shape]
) -> tuple[list[torch.Tensor], list[torch.Tensor]] | None:
    """The reference's state for a module laid out as `params`/`buffers`: the same when the shapes
    agree, with zeroed convolution biases when only those are extra; None when it cannot be copied."""
    ref_p, ref_b = state
    if [tuple(b.shape) for b in ref_b] != [tuple(b) for b in buffers]:
        return None
    if [tuple(p.shape) for p in ref_p] == [tuple(s) for _, s in params]:
        return list(ref_p), list(ref_b)
    bias = set(_conv_bias_indices(params))
    kept = [s for i, (_, s) in enumerate(params) if i not in bias]
    if not bias or [tuple(p.shape) for p in ref_p] != [tuple(s) for s in kept]:
        return None
    it = iter(ref_p)
    return [torch.zeros(s) if i in bias else next(it) for i, (_, s) in enumerate(params)], list(ref_b)


def _layout(specs: Sequence[tuple[str, Shape]]) -> str:
    return ", ".join(f"{n} {list(s)}" for n, s in specs) or "(none)"


_SPATIAL = ("kernel_size", "stride", "padding", "dilation", "output_size")


def _config(entry: dict[str, Any]) -> dict[str, Any]:
    """A layer's configuration in one spelling: 3 and (3, 3) alike, padding='same'/'valid' as numbers."""
    config = {k: v for k, v in entry["config"].items() if k != "inplace"}
    for key in _SPATIAL:
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            config[key] = [value, value]
    kernel = config.get("kernel_size")
    if isinstance(kernel, list) and config.get("padding") in ("same", "valid"):
        dilation: list[Any] = config["dilation"] if isinstance(config.get("dilation"), list) else [1] * len(kernel)
        config["padding"] = (
            [d * (k - 1) // 2 for k, d in zip(kernel, dilation)] if config["padding"] == "same" else [0] * len(kernel)
        )
    return config


Leaf = tuple[str, tuple[tuple[str, str], ...]]


def _leaves(layers: Sequence[dict[str, Any]]) -> tuple[list[Leaf], list[Leaf]]:
    """The layers that own parameters or buffers, and the pooling layers, as (type, configuration)
    without their names (names are free)."""

    def leaf(entry: dict[str, Any]) -> Leaf:
        return str(entry["type"]), tuple(sorted((k, repr(v)) for k, v in _config(entry).items()))

    return (
        [leaf(e) for e in layers if e["params"] or e["buffers"]],
        [leaf(e) for e in layers if "Pool" in str(e["type"]) and not (e["params"] or e["buffers"])],
    )


def _same_layers(got: tuple[list[Leaf], list[Leaf]], exp: tuple[list[Leaf], list[Leaf]]) -> bool:
    """Same layers, configured alike, when the student built the same kinds of layers (a functional
    submission with raw Parameters is judged by its numbers instead); no pooling the reference lacks."""
    kinds_match = [t for t, _ in got[0]] == [t for t, _ in exp[0]]
    return (not kinds_match or got[0] == exp[0]) and all(p in exp[1] for p in got[1])


def _specs_of(module: nn.Module) -> tuple[list[tuple[str, Shape]], list[Shape]]:
    return ([(n, tuple(p.shape)) for n, p in module.named_parameters()], [tuple(b.shape) for b in module.buffers()])


_LAYOUTS: dict[tuple[str, str], tuple[list[tuple[str, Shape]], list[Shape], list[dict[str, Any]]]] = {}


def _reference_layout(pair: Pair) -> tuple[list[tuple[str, Shape]], list[Shape], list[dict[str, Any]]]:
    """The reference's parameters, buffers and layers for the pair's configuration: its structure,
    which no weight changes (described once per worker and exercise revision)."""
    key = (pair.kind, pair.label)
    if key not in _LAYOUTS:
        ref = pair.reference
        _LAYOUTS[key] = (*_specs_of(ref), describe_module(ref))
    return _LAYOUTS[key]


_MISTAKE_LEAVES: dict[tuple[int, str], tuple[nn.Module, tuple[list[Leaf], list[Leaf]]]] = {}


def _mistake_layout(
    module: nn.Module,
) -> tuple[list[tuple[str, Shape]], list[Shape], tuple[list[Leaf], list[Leaf]]]:
    """A known mistake's parameters, buffers and layers. grader.mistakes.build keeps one module per
    mistake file revision and arguments; its layers are described once per parameter layout."""
    params, buffers = _specs_of(module)
    key = (id(module), repr((params, buffers)))
    entry = _MISTAKE_LEAVES.get(key)
    if entry is None or entry[0] is not module:
        entry = (module, _leaves(describe_module(module)))
        _MISTAKE_LEAVES[key] = entry
    return params, buffers, entry[1]


_TRAINABLE: dict[tuple[str, str, Shape], bool] = {}
_OBSERVED: dict[str, _Expected | Exception | None] = {}  # Block._cached: (mistake, step, state) -> what the mistake did
_OBSERVED_MAX = 4096


def _digest(tensors: Sequence[torch.Tensor | None], *extra: Any) -> str:
    h = hashlib.blake2b(repr(extra).encode(), digest_size=16)
    for t in tensors:
        if t is not None:
            h.update(repr((tuple(t.shape), str(t.dtype))).encode())
            h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


_SIZE_MISMATCH = ("size of tensor", "must match the size", "shapes cannot be", "not broadcastable")


@dataclass
class Block:
    """A module exercise's interface, as data, and the check families that test it.

    name: the class (or function returning a module) in solution.py and in the student's file.
    default: the configuration single-configuration checks use.
    out_shape: the output shape for a configuration and an input shape.
    silence: zeroes the main path's last batch norm (gamma, and beta where the argument needs it) so
        that only the shortcut carries the input: used by the gradient check.
    explain_crash: an exercise's own lesson for a crash no known mistake reproduces (it calls
        ctx.fail, or returns to let the crash count as a plain error).
    lessons: misconception id -> what to add to the feedback when the library names it; a format
        string with {expected} (the expected output shape), {shape} (the input's) and {label}.
    """

    name: str
    default: Config
    out_shape: Callable[[Config, Shape], Shape] = same_shape
    silence: Tweak | None = None
    explain_crash: Callable[[Context, Pair, StudentError, str], None] | None = None
    what: str = "block"
    lessons: Mapping[str, str] = field(default_factory=dict)

    def lesson(self, mid: str | None, pair: Pair, step: Step) -> str:
        text = self.lessons.get(mid or "", "")
        shape = tuple(step.input.shape)
        return (
            " " + text.format(expected=self.out_shape(pair.config, shape), shape=shape, label=pair.label)
            if text
            else ""
        )

    # ---- building pairs ---------------------------------------------------------------------
    def reference(self, ctx: Context, config: Config, tweak: Tweak | None = None) -> nn.Module:
        ref = randomize_(ctx.fresh_reference(self.name, *config.args, **dict(config.kwargs)), ctx.generator)
        if tweak is not None:
            with torch.no_grad():
                tweak(ref)
        return ref

    def _prepare(
        self, ctx: Context, config: Config, tweak: Tweak | None, label: str
    ) -> tuple[_Prepared, nn.Module | None]:
        """The randomised reference's state for this pair, with the generator advanced past its draws
        exactly as Block.reference advances it: looked up by the generator's state (every grade replays
        the same seeded draws), computed on a miss (then the reference module built for it comes too)."""
        gen_state = ctx.generator.get_state()
        key = (
            id(ctx.reference),
            id(tweak),
            label,
            hashlib.blake2b(gen_state.numpy().tobytes(), digest_size=16).digest(),
        )
        entry = _PREPARED.get(key)
        if entry is not None and entry.owners[0] is ctx.reference and entry.owners[1] is tweak:
            ctx.generator.set_state(entry.after)
            return entry, None
        ref = self.reference(ctx, config, tweak)
        state = ([p.detach().clone() for p in ref.parameters()], [b.detach().clone() for b in ref.buffers()])
        kind = f"{getattr(ctx.reference, '__name__', '')}|{type(ref).__module__}"  # the revision's, and the class's
        entry = _Prepared(
            (ctx.reference, tweak),
            state,
            ctx.generator.get_state(),
            kind,
            _digest([*state[0], *state[1]], kind, label),
            state_to_wire(*state),
            sum(t.numel() * t.element_size() for t in [*state[0], *state[1]]) * 2,
        )
        _PREPARED.put(key, entry)
        return entry, ref

    def _rebuild(self, ctx: Context, config: Config, state: tuple[list[torch.Tensor], list[torch.Tensor]]) -> nn.Module:
        """A reference module holding `state` (the tweak's effect included: it is in the state)."""
        ref = ctx.fresh_reference(self.name, *config.args, **dict(config.kwargs))
        ref.__dict__.pop("_grader_holds", None)
        _load(ref, *state)
        return ref

    def pair(
        self,
        ctx: Context,
        config: Config | None = None,
        tweak: Tweak | None = None,
        *,
        strict: bool = True,
        describe: bool = False,
    ) -> Pair:
        """The student's module with a randomised reference's state copied in. strict: fail (naming
        the structural mistake) when the state cannot be copied; otherwise continue without it."""
        config = config or self.default
        label = config.call(self.name)
        prepared, ref = self._prepare(ctx, config, tweak, label)
        state = prepared.state
        student = ctx.construct(*config.args, describe=describe, **dict(config.kwargs))
        adapted = adapt_state(state, [(s.name, s.shape) for s in student.params], [s.shape for s in student.buffers])
        pair = Pair(config, student, state, label, adapted is not None, prepared.kind, prepared.key, ref)
        pair.build = lambda: self._rebuild(ctx, config, state)
        if adapted is not None and _same_tensors(adapted, state):
            student.load_wire(prepared.wire)  # the reference's own state: serialised once per worker
            adapted = None
        if adapted is not None:
            student.load_state(*adapted)
        elif not pair.loaded and strict:
            message, mids = self.structure_problem(ctx, pair)
            ctx.fail(
                "This check copies the reference's weights into your module, which needs the layers the "
                "specification lists, in that order.\n" + message,
                *mids,
            )
        return pair

    # ---- structure --------------------------------------------------------------------------
    def structure_problem(self, ctx: Context, pair: Pair) -> tuple[str, list[str]]:
        """('', []) when the student's parameters, buffers and layer configuration match the
        reference's; otherwise what differs and the misconception(s) it shows."""
        student = pair.student
        exp_p, exp_b, exp_layers = _reference_layout(pair)
        got_p = [(s.name, s.shape) for s in student.params]
        got_b = [s.shape for s in student.buffers]
        layers = student.describe()
        got_leaves, exp_leaves = _leaves(layers), _leaves(exp_layers)
        shapes_ok = [s for _, s in got_p] == [s for _, s in exp_p] and got_b == exp_b
        if shapes_ok and _same_layers(got_leaves, exp_leaves):
            return "", []
        detail = f"Expected parameters (in registration order): {_layout(exp_p)}.\nYours: {_layout(got_p)}."
        for mistake in self._mistake_order(ctx):
            module = build(ctx.exercise, mistake, self.name, pair.config.args, dict(pair.config.kwargs))
            if module is None:
                continue
            m_p, m_b, m_leaves = _mistake_layout(module)
            # One way, as against the reference: a pooling module the student did not build is no
            # evidence (they may pool functionally); one the mistake lacks is.
            if [s for _, s in m_p] == [s for _, s in got_p] and m_b == got_b and _same_layers(got_leaves, m_leaves):
                if shapes_ok:
                    detail = self._leaf_difference(layers, exp_layers)
                return f"Your {self.what}'s layers do not match the specification.\n{detail}", [mistake.misconception]
        if not got_p:
            return (
                f"Your {self.what} has no parameters: create its layers in __init__ (after super().__init__()) "
                f"as attributes, e.g. self.conv1 = nn.Conv2d(...).\n{detail}",
                ["main_path_wrong"],
            )
        if shapes_ok:
            return (
                f"Your {self.what}'s layers are configured differently.\n{self._leaf_difference(layers, exp_layers)}",
                [self._leaf_misconception(layers, exp_layers)],
            )
        bias = _conv_bias_indices(got_p)
        without = [s for i, (_, s) in enumerate(got_p) if i not in bias]
        if bias and without == [s for _, s in exp_p] and got_b == exp_b:
            return (
                f"Your convolutions have bias parameters ({', '.join(got_p[i][0] for i in bias)}).\n{detail}",
                ["conv_bias"],
            )
        if [s for _, s in got_p] == [s for _, s in exp_p] and not got_b and exp_b:
            return (
                "Your batch norm layers keep no running statistics (track_running_stats=False?).",
                ["batchnorm_config"],
            )
        if sorted([s for _, s in got_p]) == sorted([s for _, s in exp_p]):
            return f"Your layers are registered in another order.\n{detail}", ["registration_order"]
        conv_got = [s for s in without if len(s) == 4]
        conv_exp = [s for _, s in exp_p if len(s) == 4]
        if len(conv_got) == len(conv_exp) and [c[:2] for c in conv_got] == [c[:2] for c in conv_exp]:
            return f"Your convolutions have other kernel sizes.\n{detail}", ["wrong_kernel_size"]
        if len([s for s in without if len(s) == 1]) < len([s for _, s in exp_p if len(s) == 1]):
            return f"Your {self.what} has fewer batch norm parameters than specified.\n{detail}", ["batchnorm_missing"]
        return f"Your {self.what}'s layers do not match the specification.\n{detail}", ["main_path_wrong"]

    @staticmethod
    def _leaf_difference(got: Sequence[dict[str, Any]], exp: Sequence[dict[str, Any]]) -> str:
        g = [e for e in got if e["params"] or e["buffers"] or "Pool" in str(e["type"])]
        x = [e for e in exp if e["params"] or e["buffers"] or "Pool" in str(e["type"])]
        for a, b in zip(g, x):
            if a["type"] != b["type"]:
                return f"Your layer '{a['name']}' is a {a['type']}; the specification has a {b['type']} there."
            ca, cb = _config(a), _config(b)
            diff = [f"{k}={ca.get(k)!r} (expected {v!r})" for k, v in cb.items() if ca.get(k) != v]
            if diff:
                return f"Your layer '{a['name']}' ({a['type']}) has {', '.join(diff)}."
        extra = [e["name"] for e in g[len(x) :]]
        return (
            f"Your module has extra layers: {', '.join(extra)}."
            if extra
            else "Your layers differ from the specification."
        )

    @staticmethod
    def _leaf_misconception(got: Sequence[dict[str, Any]], exp: Sequence[dict[str, Any]]) -> str:
        g = [e for e in got if e["params"] or e["buffers"] or "Pool" in str(e["type"])]
        x = [e for e in exp if e["params"] or e["buffers"] or "Pool" in str(e["type"])]
        for a, b in zip(g, x):
            ca, cb = _config(a), _config(b)
            if ca == cb:
                continue
            keys = {k for k, v in cb.items() if ca.get(k) != v}
            if "BatchNorm" in str(a["type"]):
                return "batchnorm_config"
            if keys == {"padding"}:
                return "wrong_padding"
            if "kernel_size" in keys:
                return "wrong_kernel_size"
            if "bias" in keys:
                return "conv_bias"
            if "stride" in keys:
                return "shape_changed"
        return "pooling_instead_of_stride" if any("Pool" in str(e["type"]) for e in g) else "main_path_wrong"

    def check_structure(self, ctx: Context, configs: Sequence[Config] | None = None, *, lesson: str = "") -> None:
        """Parameters and buffers in the specified order and shapes, layers configured as specified
        (kernel sizes, strides, padding, bias, batch-norm eps/momentum), and a forward that runs."""
        for config in configs or [self.default]:
            pair = self.pair(ctx, config, strict=False, describe=True)
            message, mids = self.structure_problem(ctx, pair)
            if mids:
                ctx.fail(f"For {pair.label}: {message}" + (f"\n{lesson}" if lesson else ""), *mids)
            x = ctx.randn(*config.shape)
            [got] = pair.student.run([Step(x, train=self._can_train(pair, x))])
            self._verify(
                ctx,
                pair,
                Step(x, train=self._can_train(pair, x)),
                got,
                f"{pair.label}, input {config.shape}",
                values=False,
            )

    # ---- numbers ----------------------------------------------------------------------------
    def _can_train(self, pair: Pair, x: torch.Tensor) -> bool:
        """Training mode needs batch norm to see more than one value per channel (asked of the
        reference once per configuration and input shape)."""
        key = (pair.kind, pair.label, tuple(x.shape))
        if key not in _TRAINABLE:
            try:
                _trusted_step(pair.reference, pair.state, Step(x, train=True))
                _TRAINABLE[key] = True
            except (ValueError, RuntimeError):
                _TRAINABLE[key] = False
        return _TRAINABLE[key]

    def run(
        self,
        ctx: Context,
        pair: Pair,
        steps: Sequence[Step],
        whats: Sequence[str],
        *,
        lesson: str = "",
        scales: Sequence[float] = (),
        fallback: str = "main_path_wrong",
    ) -> list[StepResult]:
        """Run the steps on the student's module (one round trip) and verify each against the reference;
        fallback: the misconception a wrong output is reported under when no known mistake matches."""
        results = pair.student.run(steps)
        for i, (step, got, what) in enumerate(zip(steps, results, whats)):
            self._verify(
                ctx,
                pair,
                step,
                got,
                what,
                lesson=lesson,
                scale=scales[i] if i < len(scales) else 1.0,
                fallback=fallback,
            )
        return results

    def check_output_shape(self, ctx: Context, configs: Sequence[Config] | None = None, *, lesson: str = "") -> None:
        """The output is one float32 tensor of the specified shape (no weights needed)."""
        for config in configs or [self.default]:
            pair = self.pair(ctx, config, strict=False)
            x = ctx.randn(*config.shape)
            step = Step(x, train=self._can_train(pair, x))
            [got] = pair.student.run([step])
            self._verify(ctx, pair, step, got, f"{pair.label}, input {config.shape}", values=False, lesson=lesson)

    def check_matches(
        self,
        ctx: Context,
        configs: Sequence[Config] | None = None,
        *,
        train: bool | None = None,
        domains: Sequence[Domain] = DOMAINS,
        lesson: str = "",
        tweak: Tweak | None = None,
    ) -> None:
        """Equal to the reference with copied weights over the input domains, in training mode (one
        forward per domain) and/or eval mode (all domains in one forward), all in one round trip;
        deterministic and without state kept between calls (eval: the same input again, after another)."""
        for config in configs or [self.default]:
            pair = self.pair(ctx, config, tweak)
            base = ctx.randn(*config.shape)
            steps: list[Step] = []
            whats: list[str] = []
            scales: list[float] = []
            if train is not False and self._can_train(pair, base):
                for d in domains[:TRAIN_DOMAINS]:
                    steps.append(Step(d.transform(base), train=True))
                    whats.append(f"{pair.label}, training mode, {d.name} of shape {config.shape}")
                    scales.append(d.scale)
            if train is not True:  # samples are independent in eval mode: all domains in one forward
                mixed = torch.cat([d.transform(base) for d in domains])
                label = f"{pair.label}, eval mode, " + ", ".join(d.name for d in domains)
                steps += [
                    Step(mixed, train=False),
                    Step(ctx.randn(*config.shape) * 3, train=False),
                    Step(mixed, train=False),
                ]
                whats += [label, f"{pair.label}, eval mode, a second input", label + " (called again)"]
                scale = max(d.scale for d in domains)
                scales += [scale, 3.0, scale]
            results = self.run(ctx, pair, steps, whats, lesson=lesson, scales=scales)
            if train is not True:
                first, again = results[-3].output, results[-1].output
                if first is not None and again is not None and not torch.equal(first, again):
                    ctx.fail(
                        f"{pair.label}: calling forward() twice on the same input in eval mode gave different "
                        f"outputs (another call came in between). A block must be a pure function of its input, "
                        f"weights and running statistics: keep no state between calls and use no randomness.",
                        "main_path_wrong",
                    )

    def check_running_stats(self, ctx: Context, config: Config | None = None) -> None:
        """After one training-mode forward every batch norm's running mean, variance and counter
        equal the reference's (momentum, eps, each batch norm used once)."""
        pair = self.pair(ctx, config)
        x = ctx.randn(*pair.config.shape) * 2 + 0.5
        self.run(ctx, pair, [Step(x, train=True, buffers=True)], [f"{pair.label}, one training-mode forward"])

    def check_gradients(self, ctx: Context, config: Config | None = None) -> None:
        """With the main path silenced the gradient reaches the input through the shortcut alone;
        with random weights the input and EVERY parameter receive the reference's gradient."""
        config = config or self.default
        cases: list[tuple[Tweak | None, str]] = [(None, "all weights random")]
        if self.silence is not None:
            cases.insert(0, (self.silence, "main path silenced (its last batch norm's gamma = 0)"))
        for tweak, what in cases:
            pair = self.pair(ctx, config, tweak)
            x = ctx.randn(*config.shape)
            train = self._can_train(pair, x)
            g = ctx.randn(*self.out_shape(config, tuple(x.shape)))
            self.run(ctx, pair, [Step(x, train=train, grad_output=g)], [f"{pair.label}, {what}"])

    def check_lecture(
        self,
        ctx: Context,
        tweak: Tweak,
        lesson: str,
        config: Config | None = None,
        expected: Callable[[torch.Tensor], torch.Tensor] | None = None,
        fallback: str = "main_path_wrong",
        diagnose: Callable[[torch.Tensor, torch.Tensor], str | None] | None = None,
    ) -> None:
        """The lecture's argument as a check: with `tweak` applied to the weights, the block must
        still match the reference and, when given, `expected(x)` (e.g. ReLU(x)) in both modes; a
        wrong output is named by the known mistakes, else by diagnose(x, output), else fallback."""
        pair = self.pair(ctx, config, tweak)
        x = ctx.randn(*pair.config.shape)
        steps = [Step(x, train=False), Step(x, train=True)]
        results = self.run(
            ctx,
            pair,
            steps,
            [f"{pair.label}, eval mode", f"{pair.label}, training mode"],
            lesson=lesson,
            fallback=fallback,
        )
        if expected is not None:  # absolute: holds whatever the reference computes
            for step, got in zip(steps, results):
                result = compare(got.output, expected(x), what="output")
                if not result.ok:
                    mid = diagnose(x, got.output) if diagnose and got.output is not None else None
                    ctx.fail(f"{lesson}\n{result.message}", mid or fallback)

    def check_sweep(self, ctx: Context, configs: Sequence[Config]) -> None:
        """check_matches over configurations (sizes, channels, kernels, strides, batch 1, 1x1),
        each in training mode (where batch norm allows it) and eval mode, unit Gaussian inputs."""
        for config in configs:
            pair = self.pair(ctx, config)
            x = ctx.randn(*config.shape)
            steps, whats = [Step(x, train=False)], [f"{pair.label}, input {config.shape}, eval mode"]
            if self._can_train(pair, x):
                steps.append(Step(x, train=True))
                whats.append(f"{pair.label}, input {config.shape}, training mode")
            self.run(ctx, pair, steps, whats)

    # ---- verifying one step, and naming what went wrong ---------------------------------------
    def _verify(
        self,
        ctx: Context,
        pair: Pair,
        step: Step,
        got: StepResult,
        what: str,
        *,
        values: bool = True,
        lesson: str = "",
        scale: float = 1.0,
        fallback: str = "main_path_wrong",
    ) -> None:
        head = lesson + "\n" if lesson else ""
        if got.error is not None:
            self._explain_crash(ctx, pair, step, got.error, what)
        if got.output is None:
            ctx.fail(f"{head}forward() returned a {got.output_type}, not a tensor ({what}).", "wrong_output_type")
        want = self.out_shape(pair.config, tuple(step.input.shape))
        if tuple(got.output.shape) != want:
            mid = self._find_mistake(ctx, pair, step, got, "shape")
            fallback = "wrong_padding" if tuple(got.output.shape[:2]) == want[:2] else "shape_changed"
            ctx.fail(
                f"{head}For an input of shape {tuple(step.input.shape)} ({what}) your {self.what} returned "
                f"shape {tuple(got.output.shape)}; expected {want}.{self.lesson(mid, pair, step)}",
                mid or fallback,
            )
        if got.output.dtype != torch.float32:
            ctx.fail(
                f"{head}forward() returned a tensor of dtype {got.output.dtype}; the {self.what} must keep "
                f"float32 (the input's dtype). Avoid .double(), .long(), comparisons or integer arithmetic.",
                "wrong_output_type",
            )
        if not values:
            return
        if not pair.loaded:
            ctx.fail("This check needs your module to hold the reference's weights.", "registration_order")
        expected = pair.expected(step)
        atol = 1e-5 * max(1.0, scale) * 10
        result = compare(got.output, expected.output, what=f"output ({what})", atol=atol)
        if not result.ok:
            if not bool(torch.isfinite(got.output).all()):
                ctx.fail(head + result.message, "nonfinite_output")
            mid = self._find_mistake(ctx, pair, step, got, "output")
            ctx.fail(
                head
                + result.message
                + (" Your output is exactly what that mistake produces." if mid else "")
                + self.lesson(mid, pair, step),
                mid or ctx.memo.get("diagnosis") or fallback,
            )
        if got.input_changed:
            ctx.fail(
                f"{head}The output is right, but your forward() changed its input tensor in place ({what}). The "
                f"caller's tensor (and the shortcut, which still needs it) must stay untouched.",
                "inplace_overwrites_input",
            )
        if step.buffers:
            self._verify_buffers(ctx, pair, step, got, expected, what)
        if step.grad_output is not None:
            self._verify_grads(ctx, pair, step, got, expected, what)

    def _verify_buffers(
        self, ctx: Context, pair: Pair, step: Step, got: StepResult, expected: _Expected, what: str
    ) -> None:
        for spec, g, e in zip(pair.student.buffers, got.buffers, expected.buffers):
            if e.dtype == torch.int64:
                ok = g.shape == e.shape and bool(torch.equal(g.to(torch.int64), e))
                message = (
                    f"After one training-mode forward, {spec.name} is {g.reshape(-1)[:1].tolist()}, expected "
                    f"{e.reshape(-1)[:1].tolist()}: each batch norm must run exactly once per forward."
                )
            else:
                result = compare(g, e, what=f"buffer {spec.name} after one training-mode forward", dims=None)
                ok, message = result.ok, result.message
            if not ok:
                mid = self._find_mistake(ctx, pair, step, got, "buffers")
                ctx.fail(
                    f"{message} ({what}). Each batch norm must normalise its convolution's output once per "
                    f"forward with PyTorch's defaults (momentum 0.1, eps 1e-5).",
                    mid or "running_stats_wrong",
                )

    def _verify_grads(
        self, ctx: Context, pair: Pair, step: Step, got: StepResult, expected: _Expected, what: str
    ) -> None:
        if not got.output_requires_grad:
            ctx.fail(
                f"Your {self.what}'s output does not track gradients at all ({what}): is forward() running "
                f"under torch.no_grad(), or rebuilding tensors from numbers?",
                "shortcut_detached",
            )
        assert expected.input_grad is not None
        if got.input_grad is None or (
            float(got.input_grad.abs().max()) == 0.0 and float(expected.input_grad.abs().max()) > 0.0
        ):
            mid = self._find_mistake(ctx, pair, step, got, "grads")
            ctx.fail(
                f"No gradient reaches the input ({what}). The shortcut must pass the gradient straight back to "
                f"the input: that direct path is what lets very deep networks train.",
                mid or "shortcut_detached",
            )
        result = compare(
            got.input_grad,
            expected.input_grad,
            what=f"gradient with respect to the input ({what})",
            atol=1e-5 * max(1.0, float(expected.input_grad.abs().max())),
        )
        if not result.ok:
            mid = self._find_mistake(ctx, pair, step, got, "grads")
            ctx.fail(
                result.message + " Your forward values are right, so the gradient is cut or changed somewhere "
                "(detach(), .data, torch.no_grad(), an in-place change of a saved tensor).",
                mid or ctx.memo.get("diagnosis") or "shortcut_detached",
            )
        for spec, g, e in zip(pair.student.params, got.param_grads, expected.param_grads):
            if e is None:
                continue
            if g is None or float(g.abs().max()) == 0.0:
                if float(e.abs().max()) == 0.0:
                    continue  # this step cannot tell (e.g. the main path is silenced): another step will
                mid = self._find_mistake(ctx, pair, step, got, "grads")
                ctx.fail(
                    f"Your parameter {spec.name} receives no gradient ({what}), so it cannot learn, although the "
                    f"forward values are right. Something cuts it out of the graph (detach(), .data, "
                    f"requires_grad=False, a copy through numbers).",
                    mid or "parameter_not_learning",
                )
            result = compare(
                g, e, what=f"gradient of {spec.name} ({what})", dims=None, atol=1e-5 * max(1.0, float(e.abs().max()))
            )
            if not result.ok:
                mid = self._find_mistake(ctx, pair, step, got, "grads")
                ctx.fail(
                    result.message + " The forward values are right, but this parameter would learn something "
                    "else than the reference's.",
                    mid or ctx.memo.get("diagnosis") or "parameter_not_learning",
                )

    def _explain_crash(self, ctx: Context, pair: Pair, step: Step, error: StudentError, what: str) -> None:
        if not step.train and "more than 1 value per channel when training" in error.message:
            ctx.fail(
                f"In eval mode, for an input of shape {tuple(step.input.shape)} ({what}), your forward() "
                f"failed:\n{error.describe()}\nBatch norm only needs batch statistics in training mode; in eval "
                f"mode it uses its running statistics, so a single value per channel is fine.",
                "eval_mode_wrong",
            )
        got = StepResult(error=error)
        mid = self._find_mistake(ctx, pair, step, got, "crash")
        if mid:
            ctx.fail(
                f"For an input of shape {tuple(step.input.shape)} ({what}) your forward() failed:\n"
                f"{error.describe()}\nThat is the error this mistake produces." + self.lesson(mid, pair, step),
                mid,
            )
        if self.explain_crash is not None:
            self.explain_crash(ctx, pair, error, what)
        if any(k in error.message for k in _SIZE_MISMATCH):
            ctx.fail(
                f"For an input of shape {tuple(step.input.shape)} ({what}) your forward() failed where two "
                f"tensors of different shapes meet:\n{error.describe()}\nThe main path must end with the "
                f"shortcut's shape so the two can be added: check each convolution's padding and stride.",
                "wrong_padding"
                if self.out_shape(pair.config, tuple(step.input.shape)) == tuple(step.input.shape)
                else "shape_changed",
            )
        raise error

    def _mistake_order(self, ctx: Context) -> list[Mistake]:
        """Known mistakes, the one an earlier check diagnosed first (several can agree on one input)."""
        found = mistakes_of(ctx.exercise)
        earlier = ctx.memo.get("diagnosis")
        return sorted(found, key=lambda m: m.misconception != earlier)

    def _find_mistake(self, ctx: Context, pair: Pair, step: Step, got: StepResult, observe: str) -> str | None:
        """The misconception of the first known mistake that, built with the same arguments and
        state and given the same step, behaves like the student's module in `observe`:
        crash (same error), shape (same output shape), output, buffers or grads (same values)."""
        # A wrong shape is named after a mistake with the same numbers where one exists; a crash or a
        # shape (which weights do not decide) first after mistakes with the student's parameter shapes.
        got_shapes = [s.shape for s in pair.student.params]
        built = [
            (m, build(ctx.exercise, m, self.name, pair.config.args, dict(pair.config.kwargs)))
            for m in self._mistake_order(ctx)
        ]
        candidates = [(m, module) for m, module in built if module is not None]
        if observe in ("crash", "shape"):
            candidates.sort(key=lambda c: [tuple(p.shape) for p in c[1].parameters()] != got_shapes)
        reference: StepResult | None = None
        if observe in ("output", "buffers", "grads"):
            # A mistake that behaves like the reference here cannot explain a difference from it.
            exp = pair.expected(step)
            reference = StepResult(
                output=exp.output, input_grad=exp.input_grad, param_grads=exp.param_grads, buffers=exp.buffers
            )
        seen: dict[int, _Expected | Exception | None] = {}
        weights = observe not in ("crash", "shape")
        step_key = _digest([step.input, step.grad_output], step.train, step.buffers) + pair.state_key()
        for mode in ("output", "shape") if observe == "shape" else (observe,):
            for mistake, module in candidates:
                if observe == "grads" and got.output is not None:
                    # Only a mistake with the student's forward values can have its gradients:
                    # a forward without autograd rules most of them out cheaply.
                    forward = self._cached(
                        module,
                        step_key + "fwd",
                        lambda: self._observe(module, pair, Step(step.input, step.train), weights=True),
                    )
                    if not self._matches(forward, got, "output"):
                        continue
                if id(module) not in seen:
                    seen[id(module)] = self._cached(
                        module, step_key + str(weights), lambda: self._observe(module, pair, step, weights=weights)
                    )
                mine = seen[id(module)]
                if reference is not None and self._matches(mine, reference, mode):
                    continue
                if self._matches(mine, got, mode):
                    ctx.memo.setdefault("diagnosis", mistake.misconception)
                    return mistake.misconception
        return None

    @staticmethod
    def _cached(
        module: nn.Module, key: str, observe: Callable[[], _Expected | Exception | None]
    ) -> _Expected | Exception | None:
        """Every grade replays the same inputs and weights (a fixed seed): what a known mistake does
        for them is computed once per worker, not once per failing student."""
        full = f"{id(module)}|{key}"  # grader.mistakes.build keeps one module per mistake file revision
        if full not in _OBSERVED:
            if len(_OBSERVED) >= _OBSERVED_MAX:
                _OBSERVED.pop(next(iter(_OBSERVED)))
            _OBSERVED[full] = observe()
        return _OBSERVED[full]

    @staticmethod
    def _observe(module: nn.Module, pair: Pair, step: Step, *, weights: bool) -> _Expected | Exception | None:
        """What a known mistake does for the step, with the pair's weights (None when they cannot be
        copied into it and `weights` says they matter); its exception when it crashes."""
        params, buffers = _specs_of(module)
        state = adapt_state(pair.state, params, buffers)
        if state is None and weights:
            return None
        try:
            if state is not None:
                return _trusted_step(module, state, step)
            module.train(step.train)
            with torch.no_grad():
                return _Expected(module(step.input.clone()))
        except Exception as exc:  # noqa: BLE001 - the mistake's own crash is what a crash is compared with
            return exc

    @staticmethod
    def _matches(mine: _Expected | Exception | None, got: StepResult, observe: str) -> bool:
        if mine is None:
            return False
        if isinstance(mine, Exception):
            return (
                observe == "crash"
                and got.error is not None
                and type(mine).__name__ == got.error.type
                and str(mine) == got.error.message
            )
        if observe == "crash" or got.output is None:
            return False
        if observe == "shape":
            return tuple(mine.output.shape) == tuple(got.output.shape)
        if not close(got.output.float(), mine.output, rtol=1e-4, atol=1e-4 * max(1.0, float(mine.output.abs().max()))):
            return False
        if observe == "output":
            return True
        if observe == "buffers":
            return len(got.buffers) == len(mine.buffers) and all(
                close(g.double(), m.double(), rtol=1e-4, atol=1e-5) for g, m in zip(got.buffers, mine.buffers)
            )
        pairs = [(got.input_grad, mine.input_grad)] + list(zip(got.param_grads, mine.param_grads))
        return all(
            (g is None and (m is None or float(m.abs().max()) == 0.0))
            or (g is not None and m is not None and close(g, m, rtol=1e-4, atol=1e-5 * max(1.0, float(m.abs().max()))))
            or (g is not None and m is None and float(g.abs().max()) == 0.0)
            for g, m in pairs
        )

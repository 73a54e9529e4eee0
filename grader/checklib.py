"""What an exercise's checks.py is written against. Runs in the trusted process only.

    from grader.checklib import check, Context

    @check("output keeps the input's shape", points=1, visibility="visible")
    def shape(ctx: Context) -> None:
        block = ctx.construct(4)
        out = block.forward(ctx.randn(2, 4, 8, 8)).output
        if out.shape != (2, 4, 8, 8):
            ctx.fail("...", "shape_changed")

A check passes by returning and fails by calling ctx.fail (or when the student's code raises).
The student's module lives in the sandbox; `ctx.construct` returns a RemoteModule proxy that sends
data-only commands and receives tensors as raw bytes.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NoReturn, Sequence

import torch

from grader.exercise import Exercise, ExerciseError, Misconception
from grader.protocol import tensor_from_wire, tensor_to_wire
from grader.sandbox.pool import Child, StudentError

__all__ = [
    "check",
    "Context",
    "CheckFailed",
    "ExerciseBug",
    "RemoteModule",
    "TensorSpec",
    "ForwardResult",
    "BackwardResult",
    "Step",
    "StepResult",
    "StudentError",
    "state_to_wire",
]


class CheckFailed(Exception):
    def __init__(self, message: str, misconceptions: Sequence[str] = ()):
        self.message = message
        self.misconceptions = list(misconceptions)
        super().__init__(message)


class ExerciseBug(Exception):
    """The checks themselves are wrong (the author's bug): the grade is an error, not a score."""


@dataclass(frozen=True)
class CheckSpec:
    name: str
    points: float
    visibility: str
    fn: Callable[["Context"], None]
    line: int


def check(
    name: str, *, points: float = 1.0, visibility: str = "hidden"
) -> Callable[[Callable[["Context"], None]], Callable[["Context"], None]]:
    if visibility not in ("visible", "hidden", "after_due_date"):
        raise ValueError(f"visibility must be visible, hidden or after_due_date, not {visibility!r}")

    def deco(fn: Callable[[Context], None]) -> Callable[[Context], None]:
        fn.__check__ = CheckSpec(name, float(points), visibility, fn, fn.__code__.co_firstlineno)  # type: ignore[attr-defined]  # a marker attribute on a function object
        return fn

    return deco


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass
class ForwardResult:
    output: torch.Tensor | None
    output_type: str
    input_changed: bool


@dataclass
class BackwardResult:
    input_grad: torch.Tensor | None
    param_grads: list[torch.Tensor | None]
    output_requires_grad: bool


@dataclass(frozen=True)
class Step:
    """One probe of a module: a forward in `train` mode, a backward when grad_output is given, and the
    buffers afterwards when asked."""

    input: torch.Tensor
    train: bool = True
    grad_output: torch.Tensor | None = None
    buffers: bool = False


@dataclass
class StepResult:
    """What the student's module did for one Step (error set when its code raised)."""

    output: torch.Tensor | None = None
    output_type: str = ""
    input_changed: bool = False
    output_requires_grad: bool = False
    input_grad: torch.Tensor | None = None
    param_grads: list[torch.Tensor | None] = field(default_factory=list)
    buffers: list[torch.Tensor] = field(default_factory=list)
    error: StudentError | None = None


def state_to_wire(
    params: Sequence[torch.Tensor], buffers: Sequence[torch.Tensor]
) -> tuple[dict[str, Any], list[bytes]]:
    """A load_state's header and blobs (RemoteModule.load_wire sends them)."""
    blobs: list[bytes] = []
    state = {
        "params": [tensor_to_wire(t, blobs) for t in params],
        "buffers": [tensor_to_wire(t, blobs) for t in buffers],
    }
    return state, blobs


class RemoteModule:
    """A student's nn.Module living in the sandbox, driven by data-only commands."""

    def __init__(self, ctx: "Context", reply: dict[str, Any], label: str):
        self._ctx = ctx
        self.handle = int(reply["handle"])
        self.label = label
        self.params = [TensorSpec(str(p["name"]), tuple(p["shape"]), str(p["dtype"])) for p in reply["params"]]
        self.buffers = [TensorSpec(str(b["name"]), tuple(b["shape"]), str(b["dtype"])) for b in reply["buffers"]]
        self.submodules = [(str(m["name"]), str(m["type"])) for m in reply.get("modules", [])]
        # grader.inside.describe's layer list, when the construct asked for it (else describe() fetches it).
        self.layers: list[dict[str, Any]] | None = reply.get("layers")
        self._pending_mode: bool | None = None
        self._pending_state: tuple[dict[str, Any], list[bytes]] | None = None

    def load_state(self, params: Sequence[torch.Tensor], buffers: Sequence[torch.Tensor]) -> None:
        """Serialised now, sent with the module's next command (one round trip fewer per check).
        A failure to load is then reported by that command, inside the same check."""
        self.load_wire(state_to_wire(params, buffers))

    def load_wire(self, wire: tuple[dict[str, Any], list[bytes]]) -> None:
        """load_state for a state already serialised by state_to_wire (never changed afterwards:
        callers may keep it and send it to other modules)."""
        self._pending_state = wire

    def _command(self, extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[bytes]]:
        """A header and blob list for this module's next command, carrying any deferred load_state
        (its blobs first, so the descriptors' indices stay valid as more tensors are appended)."""
        header: dict[str, Any] = {"handle": self.handle, **(extra or {})}
        blobs: list[bytes] = []
        if self._pending_state is not None:
            header["load_state"], blobs = dict(self._pending_state[0]), list(self._pending_state[1])
            self._pending_state = None
        return header, blobs

    def train(self, mode: bool = True) -> None:
        # Sent along with the next forward (one round trip fewer per mode switch).
        self._pending_mode = mode

    def eval(self) -> None:
        self.train(False)

    def forward(self, x: torch.Tensor, *, requires_grad: bool = False) -> ForwardResult:
        header, blobs = self._command({"requires_grad": requires_grad})
        header["input"] = tensor_to_wire(x, blobs)
        if self._pending_mode is not None:
            header["train"] = self._pending_mode
            self._pending_mode = None
        reply, out = self._ctx.call("forward", header, blobs)
        tensor = tensor_from_wire(reply["output"], out) if reply.get("output") else None
        return ForwardResult(tensor, str(reply.get("output_type", "")), bool(reply.get("input_changed")))

    def backward(self, grad_output: torch.Tensor) -> BackwardResult:
        header, blobs = self._command()
        header["grad_output"] = tensor_to_wire(grad_output, blobs)
        reply, out = self._ctx.call("backward", header, blobs)
        ig = tensor_from_wire(reply["input_grad"], out) if reply.get("input_grad") else None
        pg = [tensor_from_wire(d, out) if d else None for d in reply.get("param_grads", [])]
        return BackwardResult(ig, pg, bool(reply.get("output_requires_grad")))

    def run(self, steps: Sequence[Step], *, reset: bool = True) -> list[StepResult]:
        """All steps in one round trip. reset: each step starts from the state last loaded (or the
        module's state when this command arrives), so steps are independent of one another."""
        header, blobs = self._command({"reset": reset})
        wire = []
        for step in steps:
            item: dict[str, Any] = {
                "train": step.train,
                "input": tensor_to_wire(step.input, blobs),
                "buffers": step.buffers,
            }
            if step.grad_output is not None:
                item["grad_output"] = tensor_to_wire(step.grad_output, blobs)
            wire.append(item)
        header["steps"] = wire
        self._pending_mode = None  # every step sets its own mode
        reply, out = self._ctx.call("run", header, blobs)
        results: list[StepResult] = []
        for r in reply["results"]:
            if not r.get("ok"):
                results.append(StepResult(error=StudentError(r.get("error") or {})))
                continue
            results.append(
                StepResult(
                    output=tensor_from_wire(r["output"], out) if r.get("output") else None,
                    output_type=str(r.get("output_type", "")),
                    input_changed=bool(r.get("input_changed")),
                    output_requires_grad=bool(r.get("output_requires_grad")),
                    input_grad=tensor_from_wire(r["input_grad"], out) if r.get("input_grad") else None,
                    param_grads=[tensor_from_wire(d, out) if d else None for d in r.get("param_grads", [])],
                    buffers=[tensor_from_wire(d, out) for d in r.get("buffers", [])],
                )
            )
        return results

    def describe(self) -> list[dict[str, Any]]:
        """The module's layers as data (grader.inside.describe.describe_module), fetched once."""
        if self.layers is None:
            reply, _ = self._ctx.call("describe", {"handle": self.handle})
            self.layers = list(reply["layers"])
        return self.layers

    def _flush_mode(self) -> None:
        if self._pending_mode is not None:
            self._ctx.call("mode", {"handle": self.handle, "train": self._pending_mode})
            self._pending_mode = None

    def train_steps(
        self,
        inputs: torch.Tensor,
        labels: torch.Tensor,
        *,
        steps: int,
        batch_size: int,
        lr: float,
        start_step: int = 0,
        seed: int = 0,
        momentum: float = 0.9,
    ) -> list[float]:
        """Run `steps` steps of the grader's fixed training recipe in the sandbox; returns the losses."""
        self._flush_mode()
        header, blobs = self._command(
            {
                "steps": steps,
                "batch_size": batch_size,
                "lr": lr,
                "start_step": start_step,
                "seed": seed,
                "momentum": momentum,
            }
        )
        header["inputs"] = tensor_to_wire(inputs, blobs)
        header["labels"] = tensor_to_wire(labels, blobs)
        reply, _ = self._ctx.call("train", header, blobs)
        return [float(x) for x in reply.get("losses", [])][:steps]

    def state(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        self._flush_mode()
        header, blobs = self._command()
        reply, out = self._ctx.call("state", header, blobs)
        return (
            [tensor_from_wire(d, out) for d in reply["params"]],
            [tensor_from_wire(d, out) for d in reply["buffers"]],
        )


@dataclass
class Context:
    exercise: Exercise
    catalogue: dict[str, Misconception]
    child: Child
    deadline: float
    reference: types.ModuleType
    seed: int = 0
    device: str = "cpu"
    memo: dict[str, Any] = field(default_factory=dict)
    # Checks may publish progress (e.g. training curves) and extra result data for the page.
    progress: Callable[[str, dict[str, Any]], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)

    # -- talking to the sandbox ---------------------------------------------------------------
    def call(
        self, op: str, header: dict[str, Any] | None = None, blobs: list[bytes] | None = None
    ) -> tuple[dict[str, Any], list[bytes]]:
        return self.child.call(op, header, blobs, deadline=self.deadline)

    def construct(self, *args: Any, describe: bool = False, **kwargs: Any) -> RemoteModule:
        """Build the student's class (or call their function) in the sandbox; describe: bring the
        module's layer list back with it (RemoteModule.layers)."""
        name = self.exercise.class_name or self.exercise.function_name
        label = f"{name}({', '.join([repr(a) for a in args] + [f'{k}={v!r}' for k, v in kwargs.items()])})"
        try:
            reply, _ = self.call(
                "construct", {"name": name, "args": list(args), "kwargs": kwargs, "describe": describe}
            )
        except StudentError as exc:
            self.fail(
                f"Creating {label} raised an error:\n{exc.describe()}\nThe constructor must accept the "
                f"arguments the exercise specifies.",
                "forward_crashed",
            )
        return RemoteModule(self, reply, label)

    # -- for check authors ----------------------------------------------------------------------
    def fresh_reference(self, class_name: str, *args: Any, **kwargs: Any) -> torch.nn.Module:
        """`reference.<class_name>(*args, **kwargs)` as if just constructed, in training mode.

        Built once and reused across grades (constructing conv and batch-norm layers costs as much as
        running the checks): every parameter and buffer is restored to its first construction's
        values and gradients are dropped. The n-th request for the same arguments within one grade
        gets the n-th instance, so instances handed out in one grade never alias.
        """
        key = (id(self.reference), class_name, repr(args), repr(sorted(kwargs.items())))
        counts = self.memo.setdefault("_fresh_reference_counts", {})
        n = counts.get(key, 0)
        counts[key] = n + 1
        pool = _reference_instances.setdefault(key, [])
        if n == len(pool):
            module: torch.nn.Module = getattr(self.reference, class_name)(*args, **kwargs)
            tensors = list(module.parameters()) + list(module.buffers())
            pool.append((module, tensors, [t.detach().clone() for t in tensors]))
            return module
        module, tensors, pristine = pool[n]
        with torch.no_grad():
            for t, saved in zip(tensors, pristine):
                t.copy_(saved)
        module.zero_grad(set_to_none=True)
        module.train()
        return module

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.generator)

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator)

    def fail(self, message: str, *misconceptions: str) -> NoReturn:
        for mid in misconceptions:
            if mid not in self.catalogue:
                raise ExerciseBug(
                    f"checks.py reports misconception '{mid}', which exercises/misconceptions.toml does not declare"
                )
        raise CheckFailed(message, misconceptions)

    def misconception(self, mid: str) -> Misconception:
        if mid not in self.catalogue:
            raise ExerciseBug(f"unknown misconception '{mid}'")
        return self.catalogue[mid]


# ---- loading trusted exercise code ---------------------------------------------------------------
_module_cache: dict[tuple[str, str], types.ModuleType] = {}
# Context.fresh_reference's instances: (module, its tensors, their values when first constructed).
_reference_instances: dict[tuple[Any, ...], list[tuple[torch.nn.Module, list[torch.Tensor], list[torch.Tensor]]]] = {}


def load_trusted_module(exercise: Exercise, filename: str) -> types.ModuleType:
    """Import solution.py / checks.py from the exercise folder (trusted code), cached per revision."""
    key = (exercise.content_hash, filename)
    if key in _module_cache:
        return _module_cache[key]
    path = Path(exercise.path) / filename
    name = f"_exercise_{exercise.slug.replace('-', '_')}_{exercise.content_hash[:12]}_{Path(filename).stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ExerciseError(path, "cannot be imported")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception as exc:  # noqa: BLE001 - the author's bug, reported with the file
        sys.modules.pop(name, None)
        raise ExerciseError(path, f"raised {type(exc).__name__} on import: {exc}") from None
    _module_cache[key] = mod
    return mod


def collect_checks(exercise: Exercise) -> list[CheckSpec]:
    mod = load_trusted_module(exercise, "checks.py")
    specs = sorted(
        (getattr(v, "__check__") for v in vars(mod).values() if hasattr(v, "__check__")), key=lambda s: s.line
    )
    path = Path(exercise.path) / "checks.py"
    if not specs:
        raise ExerciseError(path, "defines no @check functions")
    total = sum(s.points for s in specs)
    if abs(total - exercise.max_score) > 1e-9:
        raise ExerciseError(
            path, f"check points add up to {total:g}, but exercise.toml says max_score = {exercise.max_score:g}"
        )
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ExerciseError(path, "two checks have the same name")
    return specs


def now() -> float:
    return time.monotonic()

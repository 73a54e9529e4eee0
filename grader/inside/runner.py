"""The only grader code that runs inside the sandbox, next to the student's code.

It obeys data-only commands from the trusted side (load with the job's limits, then the COMMANDS
table: construct, describe, mode, forward, backward, run, state, train, ping; a module's new state
rides on its next command) and replies with data (JSON and raw tensor bytes, never pickle). It knows nothing about the exercise, the reference
or the expected values. Anything the student's code does to this process (monkeypatching,
raising SystemExit, closing fds, dying) can only make its own replies wrong or missing, which
the trusted side turns into failed checks.
"""

from __future__ import annotations

import linecache
import os
import resource
import socket
import sys
import time
import traceback
import types
from typing import Any, Callable

from grader.inside.describe import describe_module
from grader.protocol import ChannelClosed, MessageReader, ProtocolError, send_message, tensor_from_wire, tensor_to_wire

SUBMISSION_FILENAME = "submission.py"
MAX_TRACE_CHARS = 4000


class _State:
    def __init__(self, device: str) -> None:
        import torch

        self.torch = torch
        self.device = device
        self.module: types.ModuleType | None = None
        self.objects: dict[Any, Any] = {}  # handle -> module, ("opt", handle) -> its optimiser
        self.next_id = 1
        # Tensors kept between forward and backward, per handle.
        self.last_input: dict[int, Any] = {}
        self.last_output: dict[int, Any] = {}


def _student_traceback(exc: BaseException) -> str:
    """The traceback limited to frames in the student's file: what they can act on."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SUBMISSION_FILENAME]
    lines = []
    for f in frames[-6:]:
        lines.append(f"  line {f.lineno}, in {f.name}" + (f"\n    {f.line}" if f.line else ""))
    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    text = ("\n".join(lines) + "\n" if lines else "") + msg
    return text[-MAX_TRACE_CHARS:]


def _error_reply(kind: str, message: str, *, trace: str = "", memory: bool = False, **extra: Any) -> dict[str, Any]:
    """The one shape of every error reply (the trusted side turns it into a StudentError)."""
    return {
        "ok": False,
        "error": {"type": kind[:100], "message": message[:2000], "trace": trace, "memory": memory, **extra},
    }


def _error(exc: BaseException) -> dict[str, Any]:
    message = str(exc)
    memory = isinstance(exc, MemoryError) or "can't allocate memory" in message or "out of memory" in message.lower()
    return _error_reply(type(exc).__name__, message, trace=_student_traceback(exc), memory=memory)


def _load(st: _State, req: dict[str, Any]) -> dict[str, Any]:
    source = req["source"]
    try:
        code = compile(source, SUBMISSION_FILENAME, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return _error_reply(
            "SyntaxError",
            exc.msg or "invalid syntax",
            line=exc.lineno,
            col=exc.offset,
            text=(exc.text or "").rstrip("\n")[:300],
        )
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. null bytes, absurd nesting
        return _error(exc)
    # Tracebacks show the student's own lines.
    linecache.cache[SUBMISSION_FILENAME] = (len(source), None, source.splitlines(True), SUBMISSION_FILENAME)
    mod = types.ModuleType("submission")
    mod.__file__ = SUBMISSION_FILENAME
    sys.modules["submission"] = mod
    try:
        exec(code, mod.__dict__)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and friends are the student's too
        return _error(exc)
    st.module = mod
    names = {}
    for name in req.get("names", []):
        obj = mod.__dict__.get(name)
        if obj is None:
            names[name] = "missing"
        elif isinstance(obj, type) and issubclass(obj, st.torch.nn.Module):
            names[name] = "module_class"
        elif isinstance(obj, type):
            names[name] = "class"
        elif callable(obj):
            names[name] = "function"
        else:
            names[name] = "other"
    return {"ok": True, "names": names}


def _tensor_spec(t: Any) -> dict[str, Any]:
    return {"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}


def _construct(st: _State, req: dict[str, Any]) -> dict[str, Any]:
    torch = st.torch
    cls = getattr(st.module, req["name"])
    obj = cls(*req.get("args", []), **req.get("kwargs", {}))
    if not isinstance(obj, torch.nn.Module):
        return _error_reply("TypeError", f"{req['name']}(...) did not create a torch.nn.Module")
    if st.device != "cpu":
        obj.to(st.device)  # on the CPU a no-op that walks every parameter (~0.4 ms a block)
    handle = st.next_id
    st.next_id += 1
    st.objects[handle] = obj
    params = [{"name": n, **_tensor_spec(p)} for n, p in obj.named_parameters()]
    buffers = [{"name": n, **_tensor_spec(b)} for n, b in obj.named_buffers()]
    children = [{"name": n, "type": type(m).__name__} for n, m in obj.named_modules() if n]
    reply = {"ok": True, "handle": handle, "params": params, "buffers": buffers, "modules": children}
    if req.get("describe"):
        reply["layers"] = describe_module(obj)  # the structure rides on the construct (one round trip fewer)
    return reply


def _tensors_in(req: dict[str, Any], key: str, blobs: list[bytes]) -> list[Any]:
    return [tensor_from_wire(d, blobs) for d in req.get(key, [])]


def _load_state(st: _State, req: dict[str, Any], blobs: list[bytes]) -> dict[str, Any]:
    torch = st.torch
    obj = st.objects[req["handle"]]
    params = list(obj.parameters())
    buffers = list(obj.buffers())
    new_params = _tensors_in(req, "params", blobs)
    new_buffers = _tensors_in(req, "buffers", blobs)
    if len(params) != len(new_params) or len(buffers) != len(new_buffers):
        return _error_reply("StateMismatch", "parameter/buffer count differs")
    with torch.no_grad():
        for p, t in zip(params, new_params):
            p.copy_(t.to(p.device))
        for b, t in zip(buffers, new_buffers):
            b.copy_(t.to(b.device))
    return {"ok": True}


def _forward(st: _State, req: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    torch = st.torch
    handle = req["handle"]
    obj = st.objects[handle]
    if "train" in req:
        obj.train(bool(req["train"]))
    x = tensor_from_wire(req["input"], blobs).to(st.device)
    if req.get("requires_grad"):
        x.requires_grad_(True)
    obj.zero_grad(set_to_none=True)
    # Keep our own copy of the input to detect in-place changes to it.
    original = x.detach().clone()
    want_grad = bool(req.get("requires_grad"))
    if want_grad:
        out = obj(x)
    else:
        # No backward will follow: build no graph and keep nothing alive (deep nets, big batches).
        with torch.no_grad():
            out = obj(x)
    if st.device.startswith("cuda"):
        torch.cuda.synchronize()
    out_blobs: list[bytes] = []
    reply: dict[str, Any] = {"ok": True}
    if not isinstance(out, torch.Tensor):
        reply["output_type"] = type(out).__name__[:100]
        reply["output"] = None
    else:
        reply["output_type"] = "Tensor"
        reply["output"] = tensor_to_wire(out, out_blobs)
        if want_grad:
            st.last_output[handle] = out
    if want_grad:
        st.last_input[handle] = x
    else:
        st.last_output.pop(handle, None)
        st.last_input.pop(handle, None)
    with torch.no_grad():
        changed = x.shape != original.shape or not torch.equal(
            torch.Tensor.as_subclass(x.detach(), torch.Tensor), original
        )
    reply["input_changed"] = bool(changed)
    return reply, out_blobs


def _backward(st: _State, req: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    handle = req["handle"]
    obj = st.objects[handle]
    out = st.last_output.get(handle)
    x = st.last_input.get(handle)
    if out is None or x is None:
        return _error_reply("NoForward", "no forward output to differentiate"), []
    grad = tensor_from_wire(req["grad_output"], blobs).to(st.device)
    if not out.requires_grad:
        reply: dict[str, Any] = {"ok": True, "output_requires_grad": False, "input_grad": None, "param_grads": []}
        return reply, []
    out.backward(grad)
    out_blobs: list[bytes] = []
    reply = {
        "ok": True,
        "output_requires_grad": True,
        "input_grad": tensor_to_wire(x.grad, out_blobs) if x.grad is not None else None,
        "param_grads": [tensor_to_wire(p.grad, out_blobs) if p.grad is not None else None for p in obj.parameters()],
    }
    st.last_output.pop(handle, None)
    return reply, out_blobs


def _state(st: _State, req: dict[str, Any]) -> tuple[dict[str, Any], list[bytes]]:
    obj = st.objects[req["handle"]]
    out_blobs: list[bytes] = []
    reply = {
        "ok": True,
        "params": [tensor_to_wire(p, out_blobs) for p in obj.parameters()],
        "buffers": [tensor_to_wire(b, out_blobs) for b in obj.buffers()],
    }
    return reply, out_blobs


class _SGD:
    """torch.optim.SGD's update (momentum, no dampening, no weight decay), written out: the first
    step of torch.optim imports torch._dynamo and torch._inductor (~340 modules, ~1 s, and on GPU
    hosts Triton), which no sandbox should pay or be exposed to."""

    def __init__(self, params: list[Any], lr: float, momentum: float):
        self.params, self.lr, self.momentum = params, lr, momentum
        self.buf: list[Any] = [None] * len(params)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        import torch

        with torch.no_grad():
            for i, p in enumerate(self.params):
                if p.grad is None:
                    continue
                if self.buf[i] is None:
                    self.buf[i] = p.grad.detach().clone()
                else:
                    self.buf[i].mul_(self.momentum).add_(p.grad)
                p.add_(self.buf[i], alpha=-self.lr)


def _train(st: _State, req: dict[str, Any], blobs: list[bytes]) -> dict[str, Any]:
    """Train a constructed module with a fixed recipe (SGD + momentum, cross-entropy) for `steps` steps.

    The recipe is the grader's, not the student's: the same for the plain and the residual net. The
    losses returned are for display only; the trusted side measures the trained net itself.
    Called in chunks (start_step grows) so the worker can report progress between calls.
    """
    torch = st.torch
    handle = req["handle"]
    obj = st.objects[handle]
    inputs = tensor_from_wire(req["inputs"], blobs).to(st.device)
    labels = tensor_from_wire(req["labels"], blobs).to(st.device).long()
    steps, batch = int(req["steps"]), int(req["batch_size"])
    start = int(req.get("start_step", 0))
    key = ("opt", handle)
    if key not in st.objects:
        st.objects[key] = _SGD(list(obj.parameters()), float(req["lr"]), float(req.get("momentum", 0.9)))
    opt = st.objects[key]
    obj.train()
    n = inputs.shape[0]
    losses: list[float] = []
    # Training runs batches of 64 through deep nets: there oneDNN's convolutions are about twice as
    # fast as the native ones that grading's tiny single calls use (grader.engine.use_small_tensor_kernels).
    seed = int(req.get("seed", 0))
    with torch.backends.mkldnn.flags(enabled=True):
        for step in range(start, start + steps):
            g = torch.Generator().manual_seed(seed * 100003 + step)
            idx = torch.randperm(n, generator=g)[:batch].to(st.device)
            opt.zero_grad(set_to_none=True)
            out = obj(inputs[idx])
            loss = torch.nn.functional.cross_entropy(out, labels[idx])
            loss.backward()
            opt.step()
            value = float(loss.detach())
            losses.append(value if value == value and abs(value) != float("inf") else -1.0)
    return {"ok": True, "losses": losses}


def _set_limits(req: dict[str, Any]) -> dict[str, Any]:
    cpu = int(req.get("cpu_s", 0))
    if cpu > 0:
        used = resource.getrusage(resource.RUSAGE_SELF)
        base = int(used.ru_utime + used.ru_stime) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (base + cpu, base + cpu + 1))
    mem = int(req.get("memory_mb", 0))
    if mem > 0 and req.get("address_space", True):
        with open("/proc/self/statm") as f:
            vm_bytes = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = vm_bytes + mem * (1 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return {"ok": True}


def _describe(st: _State, req: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    return {"ok": True, "layers": describe_module(st.objects[req["handle"]])}, []


def _run(st: _State, req: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    """Several probes of one module in one round trip. Each step: a forward in the given mode, then
    (when it carries grad_output) a backward, and (when asked) the buffers afterwards. With "reset"
    every step starts from the state loaded with this command, so the steps are independent: the
    trusted side replays each one on the reference from the same state. A step whose student code
    raises reports its error and the steps after it still run."""
    torch = st.torch
    obj = st.objects[req["handle"]]
    steps = req.get("steps", [])
    # Saved for the steps after the first (which starts from the state as it is); a single step needs no copy.
    reset = bool(req.get("reset")) and len(steps) > 1
    initial = [t.detach().clone() for t in list(obj.parameters()) + list(obj.buffers())] if reset else []
    out_blobs: list[bytes] = []
    results: list[dict[str, Any]] = []
    for i, step in enumerate(steps):
        if i and reset:
            with torch.no_grad():
                for t, saved in zip(list(obj.parameters()) + list(obj.buffers()), initial):
                    t.copy_(saved)
        mark = len(out_blobs)
        try:
            results.append(_probe(st, obj, step, blobs, out_blobs))
        except BaseException as exc:  # noqa: BLE001 - the student's exceptions are data
            del out_blobs[mark:]
            results.append(_error(exc))
    return {"ok": True, "results": results}, out_blobs


def _probe(st: _State, obj: Any, step: dict[str, Any], blobs: list[bytes], out_blobs: list[bytes]) -> dict[str, Any]:
    torch = st.torch
    obj.train(bool(step.get("train", True)))
    obj.zero_grad(set_to_none=True)
    x = tensor_from_wire(step["input"], blobs).to(st.device)
    original = x.detach().clone()
    want_grad = step.get("grad_output") is not None
    if want_grad:
        x.requires_grad_(True)
        out = obj(x)
    else:
        with torch.no_grad():
            out = obj(x)
    result: dict[str, Any] = {"ok": True, "output": None, "output_type": type(out).__name__[:100]}
    if isinstance(out, torch.Tensor):
        result["output_type"] = "Tensor"
        result["output"] = tensor_to_wire(out, out_blobs)
    with torch.no_grad():
        result["input_changed"] = bool(
            x.shape != original.shape or not torch.equal(torch.Tensor.as_subclass(x.detach(), torch.Tensor), original)
        )
    if want_grad and isinstance(out, torch.Tensor):
        result["output_requires_grad"] = bool(out.requires_grad)
        if out.requires_grad:
            out.backward(tensor_from_wire(step["grad_output"], blobs).to(st.device))
        result["input_grad"] = tensor_to_wire(x.grad, out_blobs) if x.grad is not None else None
        result["param_grads"] = [
            tensor_to_wire(p.grad, out_blobs) if p.grad is not None else None for p in obj.parameters()
        ]
    if step.get("buffers"):
        result["buffers"] = [tensor_to_wire(b, out_blobs) for b in obj.buffers()]
    return result


def _mode(st: _State, req: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    st.objects[req["handle"]].train(bool(req["train"]))
    return {"ok": True}, []


def _ping(st: _State, req: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    return {"ok": True}, []


Handler = Callable[[_State, dict[str, Any], list[bytes]], tuple[dict[str, Any], list[bytes]]]


# op -> handler (state, request, request blobs) -> (reply, reply blobs). Every handler replies data;
# the student's exceptions become error replies in handle(). "load" comes first and is handled there.
COMMANDS: dict[str, Handler] = {
    "construct": lambda st, req, blobs: (_construct(st, req), []),
    "describe": _describe,
    "mode": _mode,
    "forward": _forward,
    "backward": _backward,
    "run": _run,
    "state": lambda st, req, blobs: _state(st, req),
    "train": lambda st, req, blobs: (_train(st, req, blobs), []),
    "ping": _ping,
}
# Commands that may carry a deferred load_state (applied first, from the same message's blobs).
_STATE_PRELUDE = ("forward", "backward", "state", "train", "run")


def new_state(device: str) -> _State:
    return _State(device)


def handle(st: _State, req: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    """Obey one command; the student's exceptions become error replies (data)."""
    op = req.get("op")
    try:
        if op == "load":
            if isinstance(req.get("limits"), dict):
                # Limits ride on the load command (one round trip fewer), set before any student code runs.
                _set_limits(req["limits"])
            return _load(st, req), []
        command = COMMANDS.get(op) if isinstance(op, str) else None
        if command is None:
            return _error_reply("BadCommand", f"unknown op {op!r}"), []
        if op in _STATE_PRELUDE and isinstance(req.get("load_state"), dict):
            loaded = _load_state(st, {"handle": req.get("handle"), **req["load_state"]}, blobs)
            if not loaded.get("ok"):
                return loaded, []  # a load_state the trusted side deferred onto this command failed
        return command(st, req, blobs)
    except BaseException as exc:  # noqa: BLE001 - the student's exceptions are data
        return _error(exc), []


def serve(sock: socket.socket, device: str) -> None:
    """Answer commands until told to stop or the channel closes. Never returns normally."""
    st = _State(device)
    reader = MessageReader(sock)
    while True:
        try:
            req, blobs = reader.recv()
        except (ChannelClosed, ProtocolError, OSError):
            os._exit(0)
        if req.get("op") == "exit":
            os._exit(0)
        seq = req.get("seq")
        started = time.perf_counter()
        reply, out_blobs = handle(st, req, blobs)
        reply["seq"] = seq
        reply["elapsed_s"] = time.perf_counter() - started
        try:
            send_message(sock, reply, out_blobs)
        except (ValueError, TypeError) as exc:  # e.g. NaN smuggled into JSON by a patched module
            send_message(sock, {"seq": seq, **_error_reply("BadReply", str(exc)[:500])})
        except OSError:
            os._exit(0)

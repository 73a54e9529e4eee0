"""The wire format between the trusted grader and the sandboxed child: data only.

A message is a JSON header plus zero or more raw byte blobs:

    !II  header_len, n_blobs
    header_len bytes of UTF-8 JSON
    n_blobs x (!Q blob_len, blob bytes)

Tensors travel as {"dtype": "float32", "shape": [...], "blob": i} plus the raw bytes of blob i.
Nothing is ever pickled or torch.load-ed; the trusted side validates every size, dtype and shape
before it builds a tensor. This module is imported on BOTH sides, so it needs only the stdlib
(torch is imported lazily by the tensor helpers).
"""

from __future__ import annotations

import json
import socket
import struct
import time
from typing import Any, Callable

MAX_HEADER_BYTES = 1 << 20  # 1 MiB of JSON
MAX_BLOB_BYTES = 64 << 20  # one tensor
MAX_MESSAGE_BYTES = 128 << 20  # all blobs of one message
MAX_DIMS = 8

# dtype name -> bytes per element. A closed set: anything else is refused.
DTYPES: dict[str, int] = {
    "float32": 4,
    "float64": 8,
    "float16": 2,
    "bfloat16": 2,
    "int64": 8,
    "int32": 4,
    "bool": 1,
    "uint8": 1,
}

_PREFIX = struct.Struct("!II")
_BLOB_LEN = struct.Struct("!Q")


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed message (or closed the channel)."""


class ChannelClosed(ProtocolError):
    """The peer closed the channel (it died, or closed its end)."""


def _recv_exact(sock: socket.socket, n: int, deadline: float | None = None) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        if deadline is not None:
            # The whole message must arrive by the deadline: a peer that drips one byte per
            # timeout period must not hold the reader forever.
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("deadline reached while receiving a message")
            sock.settimeout(left)
        k = sock.recv_into(view[got:], n - got)
        if k == 0:
            raise ChannelClosed("channel closed by peer")
        got += k
    return bytes(buf)


def send_message(sock: socket.socket, header: dict[str, Any], blobs: list[bytes] | None = None) -> None:
    blobs = blobs or []
    data = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    parts = [_PREFIX.pack(len(data), len(blobs)), data]
    for b in blobs:
        parts.append(_BLOB_LEN.pack(len(b)))
        parts.append(b)
    sock.sendall(b"".join(parts))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not data")


def _parse_message(read: Callable[[int], bytes], max_total: int) -> tuple[dict[str, Any], list[bytes]]:
    """One message from `read(n)` (exactly n bytes), with every limit checked before it is used."""
    header_len, n_blobs = _PREFIX.unpack(read(_PREFIX.size))
    if header_len > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {header_len} bytes is over the limit")
    if n_blobs > 4096:
        raise ProtocolError(f"{n_blobs} blobs is over the limit")
    try:
        header = json.loads(read(header_len).decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers bad JSON, NaN/Infinity and 100,000-digit integers; RecursionError, JSON
        # nested thousands deep. A hostile peer must not raise anything but ProtocolError here.
        raise ProtocolError(f"header is not JSON data: {str(exc)[:200]}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    blobs: list[bytes] = []
    total = 0
    for _ in range(n_blobs):
        (n,) = _BLOB_LEN.unpack(read(_BLOB_LEN.size))
        total += n
        if n > MAX_BLOB_BYTES or total > max_total:
            raise ProtocolError(f"blob of {n} bytes is over the limit")
        blobs.append(read(n))
    return header, blobs


def recv_message(
    sock: socket.socket, *, max_total: int = MAX_MESSAGE_BYTES, deadline: float | None = None
) -> tuple[dict[str, Any], list[bytes]]:
    """One message, read field by field (nothing past its end is consumed). With a deadline
    (time.monotonic()), all of it must arrive by then (socket.timeout)."""
    return _parse_message(lambda n: _recv_exact(sock, n, deadline), max_total)


class MessageReader:
    """recv_message for one socket that reads what has arrived in one go (usually the whole
    message in one recv) instead of one recv per field: a grade is dozens of small round trips.
    Use one reader per socket for every message after it is created: it may hold bytes of the next."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._buf = bytearray()

    def _fill(self, need: int, deadline: float | None) -> None:
        while len(self._buf) < need:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout("deadline reached while receiving a message")
                self.sock.settimeout(left)
            chunk = self.sock.recv(max(65536, need - len(self._buf)))
            if not chunk:
                raise ChannelClosed("channel closed by peer")
            self._buf += chunk

    def recv(
        self, *, max_total: int = MAX_MESSAGE_BYTES, deadline: float | None = None
    ) -> tuple[dict[str, Any], list[bytes]]:
        """One message, with recv_message's limits and deadline."""
        pos = 0

        def read(n: int) -> bytes:
            nonlocal pos
            self._fill(pos + n, deadline)
            pos += n
            return bytes(self._buf[pos - n : pos])

        message = _parse_message(read, max_total)
        del self._buf[:pos]
        return message


# ---- tensors ------------------------------------------------------------------------------------


_DTYPE_NAMES: dict[Any, str] = {}  # torch dtype -> its name in DTYPES (filled on first use: torch loads lazily)
_NUMPY_DTYPES: dict[str, Any] = {}  # name -> numpy dtype, for every DTYPES entry numpy has (not bfloat16)


def _dtype_tables() -> None:
    import numpy as np
    import torch

    for name in DTYPES:
        _DTYPE_NAMES[getattr(torch, name)] = name
        if name != "bfloat16":
            _NUMPY_DTYPES[name] = np.dtype(name)


def tensor_to_wire(t: Any, blobs: list[bytes]) -> dict[str, Any]:
    """Describe a CPU-able tensor and append its raw bytes to blobs. Used on both sides."""
    import torch

    if type(t) is not torch.Tensor:
        t = torch.Tensor.as_subclass(t, torch.Tensor)  # drop any subclass (and its __torch_function__)
    nbytes = t.numel() * t.element_size()
    if nbytes > MAX_BLOB_BYTES:
        # Refuse before copying: a lazily allocated 1 TB tensor must not be touched page by page.
        raise ValueError(
            f"the tensor of shape {tuple(t.shape)} ({nbytes / 2**20:,.0f} MiB) is larger than the "
            f"{MAX_BLOB_BYTES >> 20} MiB the grader accepts for one tensor"
        )
    t = t.detach()
    if not t.is_cpu:
        t = t.to("cpu")
    t = t.contiguous()
    if not _DTYPE_NAMES:
        _dtype_tables()
    name = _DTYPE_NAMES.get(t.dtype)
    if name is None:
        raise ValueError(f"unsupported dtype {t.dtype}")
    if name == "bfloat16":
        raw = t.view(torch.int16).numpy().tobytes()
    else:
        raw = t.numpy().tobytes()
    blobs.append(raw)
    return {"dtype": name, "shape": list(t.shape), "blob": len(blobs) - 1}


def check_tensor_desc(desc: Any, blobs: list[bytes], *, max_numel: int = 16 << 20) -> tuple[str, list[int], int]:
    """Validate a tensor description against its blob without building it: (dtype, shape, numel)."""
    if not isinstance(desc, dict):
        raise ProtocolError("tensor description is not an object")
    dtype, shape, idx = desc.get("dtype"), desc.get("shape"), desc.get("blob")
    if dtype not in DTYPES:
        raise ProtocolError(f"tensor dtype {dtype!r} is not allowed")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMS
        or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d for d in shape)
    ):
        raise ProtocolError(f"tensor shape {shape!r} is not valid")
    if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < len(blobs):
        raise ProtocolError("tensor blob index is not valid")
    numel = 1
    for d in shape:
        numel *= d
    if numel > max_numel:
        raise ProtocolError(f"tensor of {numel} elements is over the limit")
    raw = blobs[idx]
    if len(raw) != numel * DTYPES[dtype]:
        raise ProtocolError(f"tensor blob has {len(raw)} bytes, expected {numel * DTYPES[dtype]}")
    return dtype, shape, numel


def tensor_from_wire(desc: Any, blobs: list[bytes], *, max_numel: int = 16 << 20) -> Any:
    """Rebuild a tensor from its description, validating everything first. Never trusts the peer."""
    import torch

    dtype, shape, numel = check_tensor_desc(desc, blobs, max_numel=max_numel)
    raw = blobs[desc["blob"]]
    if numel == 0:
        return torch.empty(shape, dtype=getattr(torch, dtype))
    if dtype == "bfloat16":
        return torch.frombuffer(bytearray(raw), dtype=torch.int16).view(torch.bfloat16).reshape(shape).clone()
    if not _NUMPY_DTYPES:
        _dtype_tables()
    import numpy as np

    # A copy the tensor owns (np.frombuffer only views the immutable bytes).
    return torch.from_numpy(np.frombuffer(raw, dtype=_NUMPY_DTYPES[dtype]).reshape(shape).copy())


# ---- replies ------------------------------------------------------------------------------------
# The sandbox answers each command with a header the student's code could have written (it shares
# the process with the runner). The trusted side checks every field it will use against these
# shapes before anything reads them, so a hostile reply is a ProtocolError (the job ends as
# crashed), never a KeyError or AttributeError deep inside a check (an "error" or a dead worker).


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _list_of(ok: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and len(v) <= 100_000 and all(ok(x) for x in v)


def _spec(v: Any) -> bool:  # a parameter/buffer description from "construct"
    if not (isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("dtype"), str)):
        return False
    shape = v.get("shape")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS:
        return False
    for d in shape:
        if not isinstance(d, int) or isinstance(d, bool):
            return False
    return True


def _submodule(v: Any) -> bool:
    return isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("type"), str)


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, str)) or (isinstance(v, float) and v == v and abs(v) != float("inf"))


_STRINGS = _list_of(lambda n: isinstance(n, str))


def _layer(v: Any) -> bool:  # one entry of grader.inside.describe.describe_module
    return (
        isinstance(v, dict)
        and isinstance(v.get("name"), str)
        and isinstance(v.get("type"), str)
        and _STRINGS(v.get("params"))
        and _STRINGS(v.get("buffers"))
        and isinstance(v.get("config"), dict)
        and len(v["config"]) <= 32
        and all(
            isinstance(k, str) and (_scalar(x) or (isinstance(x, list) and len(x) <= 8 and all(_scalar(i) for i in x)))
            for k, x in v["config"].items()
        )
    )


_LAYERS = _list_of(_layer)
_TENSOR = "tensor"  # validated against the blobs by check_tensor_desc
_OPT_TENSOR = "tensor or null"
_TENSORS = "list of tensors"
_OPT_TENSORS = "list of tensors or nulls"
_RESULTS = "list of step results"  # "run": each step is itself a forward/backward-like reply
_STEP_FIELDS: dict[str, tuple[bool, Any]] = {
    "output": (False, _OPT_TENSOR),
    "output_type": (False, lambda v: isinstance(v, str)),
    "input_changed": (False, lambda v: isinstance(v, bool)),
    "output_requires_grad": (False, lambda v: isinstance(v, bool)),
    "input_grad": (False, _OPT_TENSOR),
    "param_grads": (False, _OPT_TENSORS),
    "buffers": (False, _TENSORS),
}

# op -> {field: (required, check)}; fields not listed are never read by the trusted side.
REPLY_FIELDS: dict[str, dict[str, tuple[bool, Any]]] = {
    "load": {
        "names": (
            False,
            lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()),
        )
    },
    "construct": {
        "handle": (True, _is_int),
        "params": (True, _list_of(_spec)),
        "buffers": (True, _list_of(_spec)),
        "modules": (False, _list_of(_submodule)),
        "layers": (False, _LAYERS),
    },
    "describe": {"layers": (True, _LAYERS)},
    "run": {"results": (True, _RESULTS)},
    "forward": {
        "output": (False, _OPT_TENSOR),
        "output_type": (False, lambda v: isinstance(v, str)),
        "input_changed": (False, lambda v: isinstance(v, bool)),
    },
    "backward": {
        "output_requires_grad": (False, lambda v: isinstance(v, bool)),
        "input_grad": (False, _OPT_TENSOR),
        "param_grads": (False, _OPT_TENSORS),
    },
    "state": {"params": (True, _TENSORS), "buffers": (True, _TENSORS)},
    "train": {"losses": (False, _list_of(_is_num))},
}
_ERROR_FIELDS: dict[str, Callable[[Any], bool]] = {
    "type": lambda v: isinstance(v, str),
    "message": lambda v: isinstance(v, str),
    "trace": lambda v: isinstance(v, str),
    "memory": lambda v: isinstance(v, bool),
    "line": lambda v: v is None or _is_int(v),
    "col": lambda v: v is None or _is_int(v),
    "text": lambda v: isinstance(v, str),
}


def validate_reply(op: str, reply: dict[str, Any], blobs: list[bytes]) -> None:
    """Raise ProtocolError unless `reply` has the shape the trusted side expects for `op`."""
    ok = reply.get("ok")
    if not isinstance(ok, bool):
        raise ProtocolError(f"reply to {op!r} has no ok flag")
    if not ok:
        err = reply.get("error")
        if err is None:
            return
        if not isinstance(err, dict):
            raise ProtocolError(f"error in reply to {op!r} is not an object")
        for key, check in _ERROR_FIELDS.items():
            if key in err and not check(err[key]):
                raise ProtocolError(f"error field {key!r} in reply to {op!r} is malformed")
        return
    _validate_fields(op, reply, REPLY_FIELDS.get(op, {}), blobs)


def _validate_fields(op: str, reply: dict[str, Any], fields: dict[str, tuple[bool, Any]], blobs: list[bytes]) -> None:
    for key, (required, check) in fields.items():
        if key not in reply:
            if required:
                raise ProtocolError(f"reply to {op!r} lacks {key!r}")
            continue
        v = reply[key]
        if check == _TENSOR:
            check_tensor_desc(v, blobs)
        elif check == _OPT_TENSOR:
            if v is not None:
                check_tensor_desc(v, blobs)
        elif check in (_TENSORS, _OPT_TENSORS):
            if not isinstance(v, list):
                raise ProtocolError(f"field {key!r} in reply to {op!r} is not a list")
            for d in v:
                if d is None and check == _OPT_TENSORS:
                    continue
                check_tensor_desc(d, blobs)
        elif check == _RESULTS:
            if not isinstance(v, list) or len(v) > 1000:
                raise ProtocolError(f"field {key!r} in reply to {op!r} is not a list")
            for step in v:
                if not isinstance(step, dict):
                    raise ProtocolError(f"a step in reply to {op!r} is not an object")
                validate_reply(f"{op} step", step, blobs)
                if step.get("ok"):
                    _validate_fields(op, step, _STEP_FIELDS, blobs)
        elif not check(v):
            raise ProtocolError(f"field {key!r} in reply to {op!r} is malformed")

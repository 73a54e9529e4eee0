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
from typing import Any

MAX_HEADER_BYTES = 1 << 20  # 1 MiB of JSON
MAX_BLOB_BYTES = 64 << 20  # one tensor
MAX_MESSAGE_BYTES = 128 << 20  # all blobs of one message
MAX_DIMS = 8

# dtype name -> bytes per element. A closed set: anything else is refused.
DTYPES: dict[str, int] = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4,
                          "bool": 1, "uint8": 1}

_PREFIX = struct.Struct("!II")
_BLOB_LEN = struct.Struct("!Q")


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed message (or closed the channel)."""


class ChannelClosed(ProtocolError):
    """The peer closed the channel (it died, or closed its end)."""


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
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


def recv_message(sock: socket.socket, *, max_total: int = MAX_MESSAGE_BYTES) -> tuple[dict[str, Any], list[bytes]]:
    header_len, n_blobs = _PREFIX.unpack(_recv_exact(sock, _PREFIX.size))
    if header_len > MAX_HEADER_BYTES:
        raise ProtocolError(f"header of {header_len} bytes is over the limit")
    if n_blobs > 4096:
        raise ProtocolError(f"{n_blobs} blobs is over the limit")
    try:
        header = json.loads(_recv_exact(sock, header_len).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    blobs: list[bytes] = []
    total = 0
    for _ in range(n_blobs):
        (n,) = _BLOB_LEN.unpack(_recv_exact(sock, _BLOB_LEN.size))
        total += n
        if n > MAX_BLOB_BYTES or total > max_total:
            raise ProtocolError(f"blob of {n} bytes is over the limit")
        blobs.append(_recv_exact(sock, n))
    return header, blobs


# ---- tensors ------------------------------------------------------------------------------------

def tensor_to_wire(t: Any, blobs: list[bytes]) -> dict[str, Any]:
    """Describe a CPU-able tensor and append its raw bytes to blobs. Used on both sides."""
    import torch

    t = torch.Tensor.as_subclass(t, torch.Tensor)  # drop any subclass (and its __torch_function__)
    t = t.detach().to("cpu").contiguous()
    name = str(t.dtype).removeprefix("torch.")
    if name not in DTYPES:
        raise ValueError(f"unsupported dtype {t.dtype}")
    if name == "bfloat16":
        raw = t.view(torch.int16).numpy().tobytes()
    else:
        raw = t.numpy().tobytes()
    blobs.append(raw)
    return {"dtype": name, "shape": list(t.shape), "blob": len(blobs) - 1}


def tensor_from_wire(desc: Any, blobs: list[bytes], *, max_numel: int = 16 << 20) -> Any:
    """Rebuild a tensor from its description, validating everything first. Never trusts the peer."""
    import torch

    if not isinstance(desc, dict):
        raise ProtocolError("tensor description is not an object")
    dtype, shape, idx = desc.get("dtype"), desc.get("shape"), desc.get("blob")
    if dtype not in DTYPES:
        raise ProtocolError(f"tensor dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d for d in shape):
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
    if numel == 0:
        return torch.empty(shape, dtype=getattr(torch, dtype))
    if dtype == "bfloat16":
        return torch.frombuffer(bytearray(raw), dtype=torch.int16).view(torch.bfloat16).reshape(shape).clone()
    return torch.frombuffer(bytearray(raw), dtype=getattr(torch, dtype)).reshape(shape).clone()

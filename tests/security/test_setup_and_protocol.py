"""The worker refuses to run without a sandbox (unless explicitly told to, and then says so in every
result), and the trusted side's parser survives every hostile byte stream (what the sandbox sends is
data, checked before it is read)."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from grader.engine import INSECURE_NOTE, Grader, SandboxUnavailable
from grader.protocol import ProtocolError, recv_message, send_message, validate_reply
from grader.sandbox.hostcheck import INSECURE_ENV
from grader.sandbox.pool import SandboxPool
from tests.security.conftest import HONEST, World


def test_a_host_without_user_namespaces_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INSECURE_ENV, raising=False)
    grader = Grader(pool=SandboxPool(simulate_no_userns=True))
    try:
        with pytest.raises(SandboxUnavailable) as info:
            grader.start()
    finally:
        grader.close()
    message = str(info.value)
    assert "cannot be set up on this host" in message
    assert "user namespaces" in message and "unshare failed" in message  # what is missing, and the call
    assert INSECURE_ENV in message  # ... and the (development-only) way round it


def test_the_insecure_switch_grades_and_says_so_in_every_result(monkeypatch: pytest.MonkeyPatch, world: World) -> None:
    monkeypatch.setenv(INSECURE_ENV, "1")
    grader = Grader(pool=SandboxPool(simulate_no_userns=True))  # the same host: no user namespaces
    try:
        grader.start()
        result = grader.grade(world.exercise, HONEST)
    finally:
        grader.close()
    assert result.full_marks
    assert result.execution.isolated is False
    assert result.output.startswith(INSECURE_NOTE)


# ---- the wire, from a hostile peer ---------------------------------------------------------------


def _pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


@pytest.mark.parametrize(
    "header",
    [
        b"[" * 200_000 + b"]" * 200_000,  # nesting: RecursionError in json
        b'{"handle": 1' + b"0" * 100_000 + b"}",  # 100,000-digit integer: ValueError in int()
        b'{"x": NaN}',
        b'{"x": -Infinity}',  # not JSON data
        b"\xff\xfe{}",  # not UTF-8
        b"[1, 2]",  # not an object
    ],
)
def test_hostile_headers_are_protocol_errors(header: bytes) -> None:
    a, b = _pair()
    threading.Thread(target=a.sendall, args=(struct.pack("!II", len(header), 0) + header,), daemon=True).start()
    with pytest.raises(ProtocolError):
        recv_message(b, deadline=time.monotonic() + 5)


def test_a_dripping_peer_times_out_at_the_deadline() -> None:
    a, b = _pair()

    def drip() -> None:
        try:
            a.sendall(struct.pack("!II", 1000, 0))
            for _ in range(100):
                a.send(b" ")
                time.sleep(0.1)
        except OSError:
            pass

    threading.Thread(target=drip, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(socket.timeout):
        recv_message(b, deadline=started + 0.5)  # each byte arrives well within any per-recv timeout
    assert time.monotonic() - started < 1.0
    a.close()
    b.close()


_T = {"dtype": "float32", "shape": [2], "blob": 0}


@pytest.mark.parametrize(
    "op, reply, blobs",
    [
        ("load", {"names": {"IdentityBlock": "module_class"}}, []),
        (
            "construct",
            {
                "handle": 1,
                "params": [{"name": "w", "shape": [2, 2], "dtype": "float32"}],
                "buffers": [],
                "modules": [{"name": "conv1", "type": "Conv2d"}],
                "repr": "x",
            },
            [],
        ),
        ("forward", {"output": _T, "output_type": "Tensor", "input_changed": False}, [b"\0" * 8]),
        ("forward", {"output": None, "output_type": "tuple"}, []),
        ("backward", {"output_requires_grad": True, "input_grad": _T, "param_grads": [None, _T]}, [b"\0" * 8]),
        ("state", {"params": [_T], "buffers": []}, [b"\0" * 8]),
        ("train", {"losses": [0.5, 1]}, []),
        ("mode", {}, []),
    ],
)
def test_well_formed_replies_pass(op: str, reply: dict, blobs: list[bytes]) -> None:
    validate_reply(op, {"ok": True, **reply}, blobs)


@pytest.mark.parametrize(
    "op, reply, blobs",
    [
        ("load", {"ok": "yes"}, []),
        ("load", {"ok": True, "names": ["IdentityBlock"]}, []),
        ("load", {"ok": False, "error": "boom"}, []),
        ("load", {"ok": False, "error": {"type": 7}}, []),
        ("construct", {"ok": True, "params": [], "buffers": []}, []),
        ("construct", {"ok": True, "handle": "1", "params": [], "buffers": []}, []),
        ("construct", {"ok": True, "handle": 1, "params": [{"name": "w"}], "buffers": []}, []),
        ("forward", {"ok": True, "output": _T}, [b"\0" * 7]),
        ("forward", {"ok": True, "output": {"dtype": "object", "shape": [1], "blob": 0}}, [b"\0" * 8]),
        ("forward", {"ok": True, "output": _T, "output_type": 3}, [b"\0" * 8]),
        ("backward", {"ok": True, "param_grads": 3}, []),
        ("state", {"ok": True, "params": [None], "buffers": []}, []),
        ("train", {"ok": True, "losses": ["nan"]}, []),
    ],
)
def test_malformed_replies_are_refused(op: str, reply: dict, blobs: list[bytes]) -> None:
    with pytest.raises(ProtocolError):
        validate_reply(op, reply, blobs)


def test_a_round_trip_still_works() -> None:
    a, b = _pair()
    send_message(a, {"ok": True, "seq": 1, "names": {"A": "module_class"}})
    reply, blobs = recv_message(b, deadline=time.monotonic() + 1)
    validate_reply("load", reply, blobs)
    assert reply["names"] == {"A": "module_class"}

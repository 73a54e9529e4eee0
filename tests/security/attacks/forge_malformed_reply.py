"""Attack: break the trusted side's parser with malformed replies on the job channel (MODE picks
one): JSON nested a million deep, integers with 100,000 digits, NaN, wrong types for every field,
tensors that lie about their bytes, garbage bytes, a header claiming a terabyte blob. Contained when
the worker survives and the student gets a graded result (never an "error", never an exception)."""

import os
import sys

import torch
from torch import nn


def attempt(label, fn):
    """One probe: prints LEAK when it got what it must not, BLOCKED when the sandbox refused."""
    try:
        got = fn()
    except BaseException as exc:  # noqa: BLE001
        print(f"BLOCKED {label}: {type(exc).__name__}: {str(exc)[:100]}")
        return None
    print(f"LEAK {label}: {str(got)[:200]!r}")
    return got

import json
import struct

import grader.inside.runner as runner

MODE = "__MODE__"
_real_send = runner.send_message
PREFIX = struct.Struct("!II")


def raw(sock, data, n_blobs=0):
    sock.sendall(PREFIX.pack(len(data), n_blobs) + data)


def evil_send(sock, header, blobs=None):
    seq = header.get("seq")
    if MODE == "nested":
        raw(sock, b"[" * 500000 + b"]" * 500000)
    elif MODE == "bigint":
        raw(sock, b'{"seq": %d, "ok": true, "handle": 1%s}' % (seq, b"0" * 100000))
    elif MODE == "nan":
        raw(sock, b'{"seq": %d, "ok": true, "handle": NaN, "names": {"IdentityBlock": "module_class"}, '
                  b'"params": [], "buffers": [], "output": {"dtype": "float32", "shape": [NaN], "blob": 0}}' % seq)
    elif MODE == "types":
        raw(sock, json.dumps({"seq": seq, "ok": True, "handle": "x", "names": [1, 2], "params": 5, "buffers": None,
                              "modules": "m", "output": [1], "output_type": 7, "input_grad": "g",
                              "param_grads": 3, "error": "e"}).encode())
    elif MODE == "error_string":
        raw(sock, json.dumps({"seq": seq, "ok": False, "error": "not a dict"}).encode())
    elif MODE == "lying_tensor":
        if "output" in header or "params" in header:
            bad = {"dtype": "float32", "shape": [2, 4, 8, 8], "blob": 0}
            h = {k: (bad if isinstance(v, dict) and "dtype" in v else
                     [bad] * len(v) if isinstance(v, list) and v and isinstance(v[0], dict) and "dtype" in v[0] else v)
                 for k, v in header.items()}
            _real_send(sock, h, [b"\0" * 7])
        else:
            _real_send(sock, header, blobs)
    elif MODE == "garbage":
        sock.sendall(os.urandom(4096))
    elif MODE == "huge_blob":
        sock.sendall(PREFIX.pack(2, 1) + b"{}" + struct.pack("!Q", 1 << 40))
    else:
        raise SystemExit(f"unknown MODE {MODE}")


runner.send_message = evil_send


class IdentityBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)))

"""Attack: read the worker's (and the fork server's) environment and memory through /proc, by the
host pids, and with process_vm_readv. Contained when those pids do not exist in the sandbox's pid
namespace and the calls are refused."""

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

import ctypes

WORKER = __WORKER_PID__
ZYGOTE = __ZYGOTE_PID__
print("SEEN pids:", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
for pid in (WORKER, ZYGOTE):
    for what in ("environ", "cmdline", "maps", "status"):
        attempt(f"/proc/{pid}/{what}", lambda p=pid, w=what: open(f"/proc/{p}/{w}", "rb").read() or 1 / 0)
    attempt(f"/proc/{pid}/mem", lambda p=pid: open(f"/proc/{p}/mem", "rb").read(16))
    attempt(f"/proc/{pid}/root", lambda p=pid: os.listdir(f"/proc/{p}/root"))


class IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def vm_read(pid):
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(64)
    local = IOVec(ctypes.cast(buf, ctypes.c_void_p), 64)
    remote = IOVec(0x400000, 64)
    n = libc.syscall(310, pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    if n < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return buf.raw


attempt("process_vm_readv(worker)", lambda: vm_read(WORKER))


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
        return torch.relu(self.bn2(self.conv2(out)) + x)

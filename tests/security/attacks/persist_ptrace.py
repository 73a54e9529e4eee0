"""Attack: ptrace the worker (PTRACE_ATTACH / PTRACE_SEIZE by its host pid), ptrace itself
(PTRACE_TRACEME), write the worker's memory with process_vm_writev, and poke it through /proc/<pid>/mem.
Contained when every call is refused."""

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

libc = ctypes.CDLL(None, use_errno=True)
WORKER = __WORKER_PID__


def call(ret, what):
    if ret < 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")
    return f"{what} returned {ret}"


attempt("PTRACE_ATTACH worker", lambda: call(libc.ptrace(16, WORKER, 0, 0), "PTRACE_ATTACH"))
attempt("PTRACE_SEIZE worker", lambda: call(libc.ptrace(0x4206, WORKER, 0, 0), "PTRACE_SEIZE"))
attempt("PTRACE_TRACEME", lambda: call(libc.ptrace(0, 0, 0, 0), "PTRACE_TRACEME"))
attempt("process_vm_writev worker", lambda: call(libc.syscall(311, WORKER, 0, 0, 0, 0, 0), "process_vm_writev"))
attempt("/proc/worker/mem write", lambda: open(f"/proc/{WORKER}/mem", "r+b").write(b"\xcc"))


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

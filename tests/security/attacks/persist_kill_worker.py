"""Attack: kill (or stop) the worker and the fork server by their host pids, every process it may
signal (kill -1), and its process group and session (which its launcher outside the sandbox might
share), to take grading down. Contained when none of them can be reached: the worker survives,
this (correct) submission is still graded, and so is the next one."""

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

import signal

WORKER = __WORKER_PID__
ZYGOTE = __ZYGOTE_PID__
print("SEEN parent pid", os.getppid(), "session", os.getsid(0), "group", os.getpgid(0))
for pid in (WORKER, ZYGOTE):
    for sig in (signal.SIGKILL, signal.SIGSTOP):
        attempt(f"kill({pid}, {sig.name})", lambda p=pid, s=sig: os.kill(p, s) or "delivered")
attempt("pidfd_open(worker)", lambda: os.pidfd_open(WORKER))
for sig in (signal.SIGSTOP, signal.SIGKILL):  # whatever these reach must be inside the sandbox
    for what, fn in (("kill(-1)", lambda s: os.kill(-1, s)), ("killpg(0)", lambda s: os.killpg(0, s))):
        try:
            fn(sig)
            print(f"SENT {what}, {sig.name}")
        except OSError as exc:
            print(f"BLOCKED {what}, {sig.name}: {exc.strerror}")


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

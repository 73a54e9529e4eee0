"""Attack: multiply the memory limit by forking: each of 4 children allocates (and touches) 700 MB,
which an address-space limit allows each process on its own, and holds it until all are done.
Contained when the sandbox as a whole stays under its memory limit (a cgroup): children are stopped
before the host feels it. Each child that survives reports HELD <MB>; the test adds them up."""

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

import time

CHILDREN = 4
CHUNK_MB = 100
PER_CHILD_MB = 700
pids = []
for _ in range(CHILDREN):
    pid = os.fork()
    if pid == 0:
        hoard = []
        try:
            for i in range(PER_CHILD_MB // CHUNK_MB):
                hoard.append(bytearray(CHUNK_MB << 20))
        except MemoryError:
            os.write(1, b"child MemoryError\n")
        time.sleep(1.5)  # everyone holds their memory at the same time
        os.write(1, b"HELD %d MB\n" % (len(hoard) * CHUNK_MB))
        os._exit(0)
    pids.append(pid)
for pid in pids:
    try:
        _, status = os.waitpid(pid, 0)
        print("child", pid, "status", status)
    except ChildProcessError:
        pass


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

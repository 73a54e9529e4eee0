"""Attack: leave SysV IPC objects (shared memory, semaphores, message queues) and POSIX shared memory
/ message queues behind, which outlive processes unless removed. Contained when they live in the
job's own IPC namespace (gone with it) or cannot be created; `ipcs` on the host is unchanged."""

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
import ctypes.util

libc = ctypes.CDLL(None, use_errno=True)
IPC_CREAT = 0o1000


def check(ret, what):
    if ret < 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")
    return f"{what} id {ret} (in the job's IPC namespace)"


for key in (0x67726164, 0x67726165):
    for what, make in (("shmget", lambda k: libc.shmget(k, 1 << 20, IPC_CREAT | 0o666)),
                       ("semget", lambda k: libc.semget(k, 4, IPC_CREAT | 0o666)),
                       ("msgget", lambda k: libc.msgget(k, IPC_CREAT | 0o666))):
        try:
            print("MADE", check(make(key), what))
        except OSError as exc:  # the seccomp allow-list has no SysV IPC: refused before any object exists
            print("BLOCKED", what, exc)


def posix_shm():
    from multiprocessing import shared_memory
    return shared_memory.SharedMemory(name="grader-attack", create=True, size=4096).name


def posix_mq():
    rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
    fd = rt.mq_open(b"/grader-attack", os.O_CREAT | os.O_RDWR, 0o666, None)
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return fd


try:
    print("MADE POSIX shm", posix_shm(), "(inside the sandbox)")
except Exception as exc:  # noqa: BLE001
    print("BLOCKED POSIX shm:", exc)
try:
    print("MADE POSIX mq", posix_mq(), "(inside the sandbox)")
except Exception as exc:  # noqa: BLE001
    print("BLOCKED POSIX mq:", exc)


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

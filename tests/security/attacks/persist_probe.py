"""Not an attack: the next student's correct submission, graded right after each persistence
attack. It looks for everything those attacks try to leave behind (files, .pth hooks, patched torch
functions, processes, SysV IPC objects, POSIX shared memory) and prints LEAK for anything it finds."""

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

import builtins
import ctypes
import ctypes.util

import torch.nn.functional as F

if hasattr(builtins, "GRADER_ATTACK_PERSISTED"):
    print("LEAK a .pth / sitecustomize hook ran in this process")
if F.relu.__module__ != "torch.nn.functional" or torch.allclose.__class__.__name__ != "builtin_function_or_method":
    print("LEAK torch was patched by an earlier job")
others = [p for p in os.listdir("/proc") if p.isdigit() and p != str(os.getpid())]
if others:
    print("LEAK processes from an earlier job:", others)
# Everything writable or planted-into: the whole tree except the (big, read-only) runtime, whose
# import directories and caches are listed one level deep instead.
RUNTIME = ["/proc", "/sys", "/usr", sys.base_prefix] + [p for p in sys.path if "-packages" in p]
PLACES = [p for p in sys.path if p] + [os.path.dirname(torch.__file__) + "/__pycache__",
                                       os.path.dirname(os.__file__) + "/__pycache__"]
found = []
for root, dirs, files in os.walk("/"):
    if any(root == p or root.startswith(p.rstrip("/") + "/") for p in RUNTIME):
        dirs[:] = []
        continue
    found += [os.path.join(root, n) for n in files + dirs]
for place in PLACES:
    try:
        found += [os.path.join(place, n) for n in os.listdir(place)]
    except OSError:
        pass
for path in found:
    if "grader-attack" in path:
        print("LEAK planted by an earlier job:", path)
libc = ctypes.CDLL(None, use_errno=True)
for key in (0x67726164, 0x67726165):
    for name, fn in (("shm", lambda k: libc.shmget(k, 0, 0)), ("sem", lambda k: libc.semget(k, 0, 0)),
                     ("msg", lambda k: libc.msgget(k, 0))):
        if fn(key) >= 0:
            print(f"LEAK SysV {name} {key:#x} from an earlier job")
for path in ("/dev/shm/grader-attack", "/dev/mqueue/grader-attack"):
    if os.path.exists(path):
        print("LEAK", path)


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

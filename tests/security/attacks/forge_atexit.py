"""Attack: atexit hooks and excepthooks that print a forged result (and write it to every open
descriptor) when the process ends. Contained when they never change the score."""

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

import atexit
import json
import threading

FAKE = json.dumps({"score": 10.0, "max_score": 10.0, "status": "graded", "output": "ATEXIT-FORGED"})


def hook(*_):
    print(FAKE)
    for fd in range(3, 64):
        try:
            os.write(fd, FAKE.encode())
        except OSError:
            pass


atexit.register(hook)
sys.excepthook = hook
threading.excepthook = hook
sys.unraisablehook = hook


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

"""Attack: flood stdout and stderr (256 MB at import, and more from a thread during grading).
Contained when the output is drained and capped (the student sees the first part, marked as
truncated), grading goes on at normal speed, and the worker's memory does not grow."""

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

import threading

LINE = "x" * 1023 + "\n"
BLOCK = LINE * 1024
for _ in range(128):
    sys.stdout.write(BLOCK)
    sys.stderr.write(BLOCK)


def flood():
    while True:
        os.write(1, BLOCK.encode())


threading.Thread(target=flood, daemon=True).start()


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

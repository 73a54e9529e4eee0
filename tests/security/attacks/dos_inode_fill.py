"""Attack: exhaust inodes: create empty files and directories until it fails, then carry on as a
correct block. Contained when the private tmpfs's inode limit stops it inside the sandbox."""

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

made = 0
try:
    for i in range(10 ** 6):
        os.mkdir(f"/tmp/grader-attack-d{i}")
        open(f"/tmp/grader-attack-d{i}/f", "w").close()
        made += 2
except OSError as exc:
    print(f"inodes stopped at {made}: {exc.strerror}")


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

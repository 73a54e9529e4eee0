"""Attack: plant files in shared temporary folders (/tmp, /var/tmp, /dev/shm, /run/shm, /dev/mqueue,
the home and working directories, the root) for the next job or the host to pick up. Contained when
every place is either refused or the job's own private tmpfs, which dies with it."""

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

for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/shm", "/dev/mqueue", "/dev", os.path.expanduser("~"), os.getcwd(), "/"):
    path = os.path.join(d, "grader-attack-planted")
    try:
        with open(path, "w") as f:
            f.write("planted")
        print(f"WROTE {path}")
    except OSError as exc:
        print(f"BLOCKED {path}: {exc.strerror}")


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

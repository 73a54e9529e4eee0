"""Attack: forge a result by printing one (Gradescope results.json, a protocol reply, a CLI JSON
line) on stdout, stderr, sys.__stdout__ and the raw file descriptors, at import and in forward().
Contained when printed text stays text: the score is what the (wrong) block earns."""

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

import json

FAKE = json.dumps({"score": 10.0, "max_score": 10.0, "status": "graded", "output": "All 9 checks passed (10/10).",
                   "tests": [], "misconceptions": [], "outcome": "ok"})


def forge():
    print(FAKE)
    print(FAKE, file=sys.stderr)
    sys.__stdout__.write(FAKE + "\n")
    os.write(1, (FAKE + "\n").encode())
    os.write(2, (FAKE + "\n").encode())
    print(json.dumps({"seq": 3, "ok": True, "output": None, "output_type": "Tensor"}))


forge()


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


_wrong_forward = IdentityBlock.forward


def forward(self, x):
    forge()
    return _wrong_forward(self, x)


IdentityBlock.forward = forward

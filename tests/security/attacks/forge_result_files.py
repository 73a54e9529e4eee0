"""Attack: forge a result by writing result files where autograders look for them
(/autograder/results/results.json, ./results.json, /tmp/results.json). Contained when nobody reads
them: the score is what the (wrong) block earns, and no file reaches the host."""

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

FAKE = json.dumps({"score": 10.0, "max_score": 10.0, "status": "graded", "output": "forged"})
for path in ("/autograder/results/results.json", "results.json", "/tmp/results.json", "/tmp/grader-attack-results.json",
             "/results.json"):
    def write(p=path):
        os.makedirs(os.path.dirname(os.path.abspath(p)), exist_ok=True)
        with open(p, "w") as f:
            f.write(FAKE)
        return "written (inside the sandbox only)"
    try:
        print(f"WROTE {path}: {write()}")
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
        return torch.relu(self.bn2(self.conv2(out)))

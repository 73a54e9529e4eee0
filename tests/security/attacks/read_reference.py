"""Attack: get the reference solution (solution.py), from disk or from memory.

Reads solution.py by its host path, imports it, and searches the interpreter's modules and the
garbage collector for any IdentityBlock class that is not its own. Contained when the reference
never exists inside the sandbox."""

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

import gc

EXERCISE_DIR = "__EXERCISE_DIR__"
PROJECT = "__PROJECT_ROOT__"
for path in (EXERCISE_DIR + "/solution.py", PROJECT + "/exercises/identity-block/solution.py", "solution.py"):
    attempt(f"open {path}", lambda p=path: open(p).read())
attempt("import solution", lambda: __import__("solution"))
attempt("reference module in sys.modules",
        lambda: [m for m in list(sys.modules) if "solution" in m or m.startswith("_exercise")] or 1 / 0)


def foreign_blocks():
    mine = sys.modules[__name__].__dict__
    return [o for o in gc.get_objects() if isinstance(o, type) and o.__name__ == "IdentityBlock"
            and o.__module__ != __name__ and o is not mine.get("IdentityBlock")] or 1 / 0


attempt("another IdentityBlock class in memory", foreign_blocks)


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

"""Attack: NaN (and inf) everywhere: outputs, running statistics, gradients, hoping a comparison
like `not (a != b).any()` or a max-difference of NaN counts as a match. Contained when non-finite
values fail their checks with a clear message."""

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



class IdentityBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        with torch.no_grad():
            for b in self.buffers():
                if b.dtype.is_floating_point:
                    b.fill_(float("nan"))
        out = (x * float("nan")) + self.conv1.weight.sum() * 0
        out.data[..., :1] = float("inf")
        return out

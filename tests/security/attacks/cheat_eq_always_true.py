"""Attack: return an object that claims to equal everything (__eq__ always True, allclose True,
shape and dtype copied from the input, a __torch_function__ that agrees with every comparison).
Contained when only real tensor bytes leave the sandbox: the output is reported as "not a tensor"."""

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



class Liar:
    def __init__(self, like):
        self.shape = like.shape
        self.dtype = like.dtype

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __bool__(self):
        return True

    def __float__(self):
        return 0.0

    def allclose(self, *a, **k):
        return True

    def __getattr__(self, name):
        return lambda *a, **k: self

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return True


class IdentityBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        return Liar(x)

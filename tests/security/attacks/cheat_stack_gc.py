"""Attack: look for the expected values by inspection: walk every frame on the stack (locals named
expected / reference / ref / target) and every object the garbage collector tracks (tensors of the
output's shape that this block did not make, modules that are not its own), and return what it finds.
Contained when expected values never exist in the sandbox: whatever it returns is judged as its own
output, and no "expected"-named object is found."""

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

SUSPECT = {"expected", "expect", "reference", "ref", "target", "solution", "answer", "truth"}


def snoop(x, mine):
    found = None
    frame = sys._getframe(1)
    while frame is not None:
        for name, val in frame.f_locals.items():
            if SUSPECT & set(name.lower().split("_")):
                print(f"LEAK frame {frame.f_code.co_name} has {name}")
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, torch.Tensor) and obj.shape == x.shape and obj is not x and obj.data_ptr() != x.data_ptr():
            if id(obj) not in mine:
                found = obj
        if isinstance(obj, nn.Module) and type(obj).__module__ not in (__name__, "submission") \
                and not type(obj).__module__.startswith("torch."):
            print(f"LEAK foreign module {type(obj)}")
    return found


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
    out = _wrong_forward(self, x)
    found = snoop(x, {id(out)})
    print("gc found", None if found is None else tuple(found.shape))
    return found.clone() if found is not None else out


IdentityBlock.forward = forward

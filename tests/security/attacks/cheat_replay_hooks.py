"""Attack: hooks that record and replay. Global module forward hooks and pre-hooks, full backward
hooks and tensor hooks record every input, output and gradient the grader sends; forward() then
replays a recorded tensor (an earlier input, a gradient it was sent) as its answer. Contained when
nothing recorded is an expected value: the score is what the wrong block earns."""

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

import torch.nn.modules.module as M

SEEN = []
M.register_module_forward_pre_hook(lambda mod, args: SEEN.append(("in", [a.detach().clone() for a in args
                                                                         if isinstance(a, torch.Tensor)])))
M.register_module_forward_hook(lambda mod, args, out: SEEN.append(("out", out.detach().clone())))
M.register_module_full_backward_hook(lambda mod, gin, gout: SEEN.append(("grad", [g for g in gout if g is not None])))


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
    for kind, val in reversed(SEEN[:-1]):
        for v in val if isinstance(val, list) else [val]:
            if isinstance(v, torch.Tensor) and v.shape == x.shape and not torch.equal(v, x.detach()):
                return v.clone().requires_grad_(x.requires_grad)
    return out


IdentityBlock.forward = forward

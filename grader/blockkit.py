"""Weights for module checks (trusted side only): see grader.blocks for the check families.

Known mistakes are files (grader.mistakes), named by running them with the student's weights.
"""

from __future__ import annotations

import torch
from torch import nn


def randomize_(module: nn.Module, gen: torch.Generator) -> nn.Module:
    """Give every parameter and buffer non-default values, so mistakes cannot hide behind defaults
    (gamma = 1, beta = 0, running mean 0 / var 1 make many wrong blocks look right)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / fan_in) ** 0.5)
            elif name.endswith("weight"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.9 + 0.6)  # BN gamma in [0.6, 1.5]
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) * 0.8 + 0.6)
    return module

"""Reference solution (trusted: imported by the grader, never sent into the sandbox)."""

import torch
import torch.nn.functional as F
from torch import nn


class PreActBlock(nn.Module):
    """The pre-activation block: BN -> ReLU -> conv, twice; out = main(p) + shortcut, nothing after."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            # A bare 1x1 projection: it reads the already normalised, activated p.
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = F.relu(self.bn1(x))  # the pre-activation
        out = self.conv1(p)
        out = self.conv2(F.relu(self.bn2(out)))
        # The identity shortcut adds x itself, untouched: a clean path from block to block.
        return out + (x if self.shortcut is None else self.shortcut(p))

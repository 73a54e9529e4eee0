"""Reference for the degradation experiment: a deep net of identity blocks, with or without shortcuts."""

import torch
from torch import nn
import torch.nn.functional as F

WIDTH = 8  # channels in every block


class Block(nn.Module):
    """conv -> BN -> ReLU -> conv -> BN, then ReLU(z + x) (residual) or ReLU(z) (plain)."""

    def __init__(self, channels: int, residual: bool):
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(z + x) if self.residual else F.relu(z)


class Net(nn.Module):
    def __init__(self, depth: int, residual: bool, width: int = WIDTH):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.blocks = nn.Sequential(*[Block(width, residual) for _ in range(depth)])
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        return self.head(h.mean(dim=(2, 3)))  # global average pooling: (N, C, 8, 8) -> (N, C)


def make_net(depth: int, residual: bool) -> nn.Module:
    return Net(depth, residual)

# expect: full
# The layers in an nn.ModuleList, walked in a loop; the shortcut is an nn.Identity when not needed.
import math

import torch
from torch import nn


class BottleneckBlock(nn.Module):
    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        out = width * self.expansion
        spec = [(in_channels, width, 1, 1), (width, width, 3, stride), (width, out, 1, 1)]
        self.layers = nn.ModuleList()
        for cin, cout, k, s in spec:
            self.layers.append(nn.Conv2d(cin, cout, k, stride=s, padding=k // 2, bias=False))
            self.layers.append(nn.BatchNorm2d(cout))
        needs_projection = stride != 1 or in_channels != out
        self.shortcut = (nn.Sequential(nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
                         if needs_projection else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i in range(0, len(self.layers), 2):
            h = self.layers[i + 1](self.layers[i](h))
            if i < len(self.layers) - 2:
                h = torch.relu(h)
        return torch.relu(h + self.shortcut(x))

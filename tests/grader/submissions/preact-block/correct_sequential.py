# expect: full
# Sequential pieces: the pre-activation, the rest of the main path, the shortcut (an nn.Identity).
import torch
from torch import nn


class PreActBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.preact = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU())
        self.residual = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        )
        self.projects = stride != 1 or in_channels != out_channels
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False) if self.projects else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.preact(x)
        return self.residual(p) + (self.shortcut(p) if self.projects else x)

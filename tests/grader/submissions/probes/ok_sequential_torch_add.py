import torch
from torch import nn


class IdentityBlock(nn.Module):
    def __init__(self, channels, kernel_size=3):
        super().__init__()
        p = kernel_size // 2
        self.body = nn.Sequential(nn.Conv2d(channels, channels, kernel_size, 1, p, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU(), nn.Conv2d(channels, channels, kernel_size, 1, p, bias=False),
                                  nn.BatchNorm2d(channels))

    def forward(self, x):
        return torch.add(self.body(x), x).clamp(min=0)

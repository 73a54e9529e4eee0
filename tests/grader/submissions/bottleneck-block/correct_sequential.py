# expect: full
import torch
from torch import nn


class BottleneckBlock(nn.Module):
    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        out = width * self.expansion
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, width, kernel_size=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, out, kernel_size=1, bias=False),
            nn.BatchNorm2d(out),
        )
        if stride == 1 and in_channels == out:
            self.skip = nn.Identity()
        else:
            self.skip = nn.Sequential(nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.main(x) + self.skip(x))

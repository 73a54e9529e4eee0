# expect: bottleneck_stride_on_1x1
# The original ResNet paper's placement: the first 1x1 convolution downsamples.
import torch
from torch import nn


class BottleneckBlock(nn.Module):
    expansion = 4

    def __init__(self, in_channels, width, stride=1):
        super().__init__()
        out = 4 * width
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, width, 1, stride=stride, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, out, 1, bias=False), nn.BatchNorm2d(out),
        )
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        return torch.relu(self.main(x) + self.shortcut(x))

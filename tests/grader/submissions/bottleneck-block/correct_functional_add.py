# expect: full
# Functional style: F.relu, torch.add, the projection built by a helper method, other names.
import torch
import torch.nn as nn
import torch.nn.functional as F


class BottleneckBlock(nn.Module):
    expansion = 4

    def __init__(self, in_channels, width, stride=1):
        super().__init__()
        self.out_channels = self.expansion * width
        self.reduce = nn.Conv2d(in_channels, width, 1, 1, 0, bias=False)
        self.reduce_bn = nn.BatchNorm2d(width)
        self.spatial = nn.Conv2d(width, width, (3, 3), (stride, stride), (1, 1), bias=False)
        self.spatial_bn = nn.BatchNorm2d(width)
        self.expand = nn.Conv2d(width, self.out_channels, 1, bias=False)
        self.expand_bn = nn.BatchNorm2d(self.out_channels)
        self.use_projection = stride != 1 or in_channels != self.out_channels
        if self.use_projection:
            self.proj = self._projection(in_channels, stride)

    def _projection(self, in_channels, stride):
        return nn.Sequential(nn.Conv2d(in_channels, self.out_channels, 1, stride, bias=False),
                             nn.BatchNorm2d(self.out_channels))

    def forward(self, x):
        h = F.relu(self.reduce_bn(self.reduce(x)))
        h = F.relu(self.spatial_bn(self.spatial(h)))
        h = self.expand_bn(self.expand(h))
        s = self.proj(x) if self.use_projection else x
        return F.relu(torch.add(h, s))

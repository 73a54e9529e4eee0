# expect: full
# F.relu / torch.add, helper functions for the convolutions, different attribute names.
import functools

import torch
from torch import nn
import torch.nn.functional as F

conv3x3 = functools.partial(nn.Conv2d, kernel_size=3, padding=1, bias=False)


def conv1x1(cin: int, cout: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


class PreActBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.norm_in = nn.BatchNorm2d(in_channels)
        self.first = conv3x3(in_channels, out_channels, stride=stride)
        self.norm_mid = nn.BatchNorm2d(out_channels)
        self.second = conv3x3(out_channels, out_channels)
        self.project = conv1x1(in_channels, out_channels, stride) if (stride, in_channels) != (1, out_channels) else None

    def forward(self, x):
        pre = F.relu(self.norm_in(x))
        residual = self.second(F.relu(self.norm_mid(self.first(pre))))
        skip = x if self.project is None else self.project(pre)
        return torch.add(skip, residual)

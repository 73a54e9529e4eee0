# expect: full
# An nn.Sequential shortcut filled with add_module, one shared in-place nn.ReLU, out += shortcut.
import torch
from torch import nn


class PreActBlock(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut.add_module("proj", nn.Conv2d(in_channels, out_channels, 1, stride, bias=False))

    def forward(self, x):
        out = self.relu(self.bn1(x))
        sc = self.shortcut(out) if len(self.shortcut) else x
        out = self.conv2(self.relu(self.bn2(self.conv1(out))))
        out += sc
        return out

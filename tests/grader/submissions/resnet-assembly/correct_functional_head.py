# expect: full
# Functional head (F.adaptive_avg_pool2d + view), stage plan computed up front, math for the channels.
import math

import torch
from torch import nn
import torch.nn.functional as F


class ResidualUnit(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.a = nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False)
        self.a_bn = nn.BatchNorm2d(c_out)
        self.b = nn.Conv2d(c_out, c_out, kernel_size=3, padding=1, bias=False)
        self.b_bn = nn.BatchNorm2d(c_out)
        self.projection = nn.ModuleList()
        if stride != 1 or c_in != c_out:
            self.projection.append(nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride, bias=False))
            self.projection.append(nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = self.b_bn(self.b(F.relu(self.a_bn(self.a(x)))))
        s = x
        for layer in self.projection:
            s = layer(s)
        return F.relu(torch.add(y, s))


class CifarResNet(nn.Module):
    def __init__(self, layers, num_classes=10, in_channels=3, width=16):
        super().__init__()
        plan = [(int(width * math.pow(2, i)), 2 if i > 0 and j == 0 else 1)
                for i, n in enumerate(layers) for j in range(n)]
        self.conv = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        units, c = [], width
        for c_out, stride in plan:
            units.append(ResidualUnit(c, c_out, stride))
            c = c_out
        self.units = nn.Sequential(*units)
        self.linear = nn.Linear(c, num_classes)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = self.units(x)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.linear(x.view(x.size(0), -1))


def make_resnet(layers, num_classes=10, in_channels=3, width=16):
    return CifarResNet(list(layers), num_classes=num_classes, in_channels=in_channels, width=width)

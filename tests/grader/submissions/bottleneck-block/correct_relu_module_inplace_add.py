# expect: full
# nn.ReLU(inplace=True) modules, and `out = out + identity` (a new tensor).
import torch
from torch import nn


class BottleneckBlock(nn.Module):
    expansion = 4

    def __init__(self, in_channels, width, stride=1):
        super(BottleneckBlock, self).__init__()
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(width, BottleneckBlock.expansion * width, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(BottleneckBlock.expansion * width)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != BottleneckBlock.expansion * width:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, BottleneckBlock.expansion * width, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(BottleneckBlock.expansion * width),
            )
        self.relu3 = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = out + self.shortcut(x)
        return self.relu3(out)

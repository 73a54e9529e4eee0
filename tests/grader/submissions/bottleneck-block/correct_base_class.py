# expect: full
# A base class with a shortcut helper, explicit tuple arguments, in-place functional ReLUs.
import torch
from torch import nn
import torch.nn.functional as F


class _Base(nn.Module):
    expansion = 4

    def _shortcut(self, cin, cout, stride):
        if stride == 1 and cin == cout:
            return nn.Sequential()
        return nn.Sequential(nn.Conv2d(cin, cout, kernel_size=(1, 1), stride=(stride, stride), bias=False),
                             nn.BatchNorm2d(cout, eps=1e-05, momentum=0.1))


class BottleneckBlock(_Base):
    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        out = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False, padding_mode="zeros")
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.shortcut = self._shortcut(in_channels, out, stride)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = F.relu(self.bn2(self.conv2(y)), inplace=True)
        y = self.bn3(self.conv3(y))
        y = y + self.shortcut(x)
        return F.relu(y, inplace=True)

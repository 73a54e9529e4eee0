# expect: full
# In-place ops, but only on tensors the block created itself (never on x).
import torch
from torch import nn
import torch.nn.functional as F


class BottleneckBlock(nn.Module):
    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        c = width * 4
        self.c1, self.b1 = nn.Conv2d(in_channels, width, 1, bias=False), nn.BatchNorm2d(width)
        self.c2, self.b2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.c3, self.b3 = nn.Conv2d(width, c, 1, bias=False), nn.BatchNorm2d(c)
        self.sc = None
        if stride > 1 or in_channels != c:
            self.sc = nn.Sequential(nn.Conv2d(in_channels, c, 1, stride=stride, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.b1(self.c1(x)), inplace=True)
        out = self.b2(self.c2(out)).relu_()
        out = self.b3(self.c3(out))
        out.add_(x if self.sc is None else self.sc(x))
        return out.clamp_(min=0)

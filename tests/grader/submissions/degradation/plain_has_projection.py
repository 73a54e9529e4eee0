# expect: plain_net_differs
# The "plain" net replaces each shortcut with a learned 1x1 convolution: not the same net without shortcuts.
import torch
from torch import nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, channels: int, residual: bool):
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        if not residual:
            self.side = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x):
        z = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(z + x) if self.residual else F.relu(z + self.side(x))


def make_net(depth: int, residual: bool) -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         *[Block(8, residual) for _ in range(depth)],
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))

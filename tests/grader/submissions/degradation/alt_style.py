# expect: full
# A correct net in another style: the head is registered first, the main path is an nn.Sequential,
# pooling and flattening are modules, and the flag is a constructor argument of the whole net.
import torch
from torch import nn


class ResidualOrPlain(nn.Module):
    def __init__(self, c: int, shortcut: bool):
        super().__init__()
        self.shortcut = shortcut
        self.main = nn.Sequential(
            nn.Conv2d(c, c, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(c),
        )
        self.act = nn.ReLU()

    def forward(self, a):
        z = self.main(a)
        if self.shortcut:
            z = z + a
        return self.act(z)


class DigitNet(nn.Module):
    def __init__(self, depth: int, residual: bool):
        super().__init__()
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
        self.conv = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.layers = nn.ModuleList([ResidualOrPlain(8, residual) for _ in range(depth)])

    def forward(self, x):
        h = torch.relu(self.bn(self.conv(x)))
        for layer in self.layers:
            h = layer(h)
        return self.classifier(h)


def make_net(depth, residual):
    return DigitNet(depth, residual)

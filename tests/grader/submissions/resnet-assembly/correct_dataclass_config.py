# expect: full
# A dataclass for the configuration and nn.ModuleDict stages (insertion order is registration order).
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F


@dataclass(frozen=True)
class Config:
    layers: tuple
    num_classes: int
    in_channels: int
    width: int

    def channels(self, stage: int) -> int:
        return self.width * 2**stage


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, downsample: bool):
        super().__init__()
        stride = 2 if downsample else 1
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = downsample
        if downsample:
            self.proj_conv = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
            self.proj_bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (self.proj_bn(self.proj_conv(x)) if self.down else x))


class ResNet(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(cfg.in_channels, cfg.width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(cfg.width), nn.ReLU())
        self.stages = nn.ModuleDict()
        cin = cfg.width
        for i, n in enumerate(cfg.layers):
            blocks = [Block(cin if j == 0 else cfg.channels(i), cfg.channels(i), i > 0 and j == 0) for j in range(n)]
            self.stages[f"stage{i}"] = nn.Sequential(*blocks)
            cin = cfg.channels(i)
        self.head = nn.Linear(cin, cfg.num_classes)

    def forward(self, x):
        x = self.stem(x)
        for stage in self.stages.values():
            x = stage(x)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, (1, 1)), start_dim=1))


def make_resnet(layers, num_classes=10, in_channels=3, width=16):
    return ResNet(Config(tuple(layers), num_classes, in_channels, width))

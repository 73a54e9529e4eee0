"""Reference solution (trusted: imported by the grader, never sent into the sandbox).

The CIFAR-style ResNet of He et al. (2016a, section 4.2). The plan of the network (how many
channels each stage has, which block strides) lives in two small functions, so that reading it
answers "where does the resolution halve and the width double?" at a glance.
"""

import torch
import torch.nn.functional as F
from torch import nn


def stage_channels(width: int, stage: int) -> int:
    """Stage i has width * 2**i channels: every time the resolution halves, the filters double."""
    return width * 2**stage


def block_stride(stage: int, index: int) -> int:
    """Only the first block of every stage after the first downsamples."""
    return 2 if stage > 0 and index == 0 else 1


class BasicBlock(nn.Module):
    """The identity block's main path; the conv block's projection shortcut when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class ResNet(nn.Module):
    def __init__(self, layers: list[int], num_classes: int = 10, in_channels: int = 3, width: int = 16):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        stages = []
        channels = width
        for stage, blocks in enumerate(layers):
            out_channels = stage_channels(width, stage)
            stage_blocks = []
            for index in range(blocks):
                stage_blocks.append(BasicBlock(channels, out_channels, block_stride(stage, index)))
                channels = out_channels
            stages.append(nn.Sequential(*stage_blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(features), 1))


def make_resnet(layers: list[int], num_classes: int = 10, in_channels: int = 3, width: int = 16) -> nn.Module:
    return ResNet(layers, num_classes, in_channels, width)

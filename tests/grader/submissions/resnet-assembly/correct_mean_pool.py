# expect: full
# Global average pooling as x.mean over H and W; the starter's BasicBlock; stages in a ModuleList.
import torch
from torch import nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class Net(nn.Module):
    def __init__(self, layers, num_classes, in_channels, width):
        super().__init__()
        self.stem_conv = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(width)
        self.stages = nn.ModuleList()
        channels = width
        for i, blocks in enumerate(layers):
            out = width << i
            stage = nn.ModuleList()
            for j in range(blocks):
                stage.append(BasicBlock(channels, out, 2 if (i and not j) else 1))
                channels = out
            self.stages.append(stage)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = F.relu(self.stem_bn(self.stem_conv(x)))
        for stage in self.stages:
            for block in stage:
                x = block(x)
        return self.classifier(x.mean(dim=(2, 3)))


def make_resnet(layers: list[int], num_classes: int = 10, in_channels: int = 3, width: int = 16) -> nn.Module:
    return Net(layers, num_classes, in_channels, width)

# expect: full
# An nn.Sequential subclass filled with add_module; functools.partial for the 3x3 convolutions.
import functools
import torch
from torch import nn
import torch.nn.functional as F

Conv3 = functools.partial(nn.Conv2d, kernel_size=3, padding=1, bias=False)


class Block(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.c1, self.b1 = Conv3(cin, cout, stride=stride), nn.BatchNorm2d(cout)
        self.c2, self.b2 = Conv3(cout, cout), nn.BatchNorm2d(cout)
        self.sc = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)) if stride > 1 else None

    def forward(self, x):
        h = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(h + (self.sc(x) if self.sc is not None else x))


class Net(nn.Sequential):
    def __init__(self, layers, num_classes, in_channels, width):
        super().__init__()
        self.add_module("conv", Conv3(in_channels, width))
        self.add_module("bn", nn.BatchNorm2d(width))
        self.add_module("relu", nn.ReLU(inplace=True))
        c = width
        for i, n in enumerate(layers):
            for j in range(n):
                s = 2 if (i and not j) else 1
                self.add_module(f"s{i}b{j}", Block(c, width * 2 ** i, s))
                c = width * 2 ** i
        self.add_module("gap", nn.AdaptiveAvgPool2d(output_size=(1, 1)))
        self.add_module("flat", nn.Flatten(1))
        self.add_module("fc", nn.Linear(c, num_classes))


def make_resnet(layers, num_classes=10, in_channels=3, width=16):
    return Net(layers, num_classes, in_channels, width)

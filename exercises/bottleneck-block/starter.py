import torch
from torch import nn
import torch.nn.functional as F


class BottleneckBlock(nn.Module):
    """The ResNet-50 block: 1x1 reduce -> 3x3 (stride) -> 1x1 expand (x4), plus the shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1):
        super().__init__()
        # TODO: create, in this order:
        #   conv1: 1x1, in_channels -> width, bias=False          bn1
        #   conv2: 3x3, width -> width, stride=stride, padding=1   bn2
        #   conv3: 1x1, width -> width * self.expansion            bn3
        #   the shortcut, only when the shape changes (stride != 1 or in_channels != width * self.expansion):
        #   a 1x1 convolution in_channels -> width * self.expansion with stride=stride, then a batch norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: conv1 -> bn1 -> ReLU -> conv2 -> bn2 -> ReLU -> conv3 -> bn3,
        # add the shortcut (x itself, or the projection of x), then ReLU.
        raise NotImplementedError("forward is not written yet")

import torch
from torch import nn
import torch.nn.functional as F


class PreActBlock(nn.Module):
    """The pre-activation block: BN -> ReLU -> conv, twice; out = main + shortcut, nothing after."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        # TODO: create, in this order:
        #   bn1: BatchNorm2d(in_channels)  (it normalises the block's input)
        #   conv1: 3x3, in_channels -> out_channels, stride=stride, padding=1, bias=False
        #   bn2: BatchNorm2d(out_channels)
        #   conv2: 3x3, out_channels -> out_channels, padding=1, bias=False
        #   the shortcut, only when the shape changes: a 1x1 convolution with stride=stride, bias=False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: p = ReLU(bn1(x)); main path conv1(p) -> bn2 -> ReLU -> conv2;
        # shortcut: x itself, or the 1x1 projection of p; return main + shortcut.
        raise NotImplementedError("forward is not written yet")

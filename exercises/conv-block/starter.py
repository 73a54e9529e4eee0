import torch
from torch import nn
import torch.nn.functional as F


class ConvBlock(nn.Module):
    """A residual block that changes shape: out = ReLU(main(x) + W_s x)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2):
        super().__init__()
        # TODO: create, in this order:
        #   conv1: 3x3, in_channels -> out_channels, stride=stride, padding=1, bias=False
        #   bn1
        #   conv2: 3x3, out_channels -> out_channels, stride 1, padding=1, bias=False
        #   bn2
        #   the shortcut W_s: a 1x1 convolution in_channels -> out_channels, stride=stride, bias=False,
        #   followed by its own batch norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # TODO: main path conv1 -> bn1 -> ReLU -> conv2 -> bn2; shortcut: 1x1 conv -> bn;
        # add the two, then ReLU.
        raise NotImplementedError("forward is not written yet")

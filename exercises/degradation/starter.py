import torch
from torch import nn
import torch.nn.functional as F

WIDTH = 8  # channels in every block


class Block(nn.Module):
    """Two 3x3 'same' convolutions, each followed by batch norm; ReLU between them.

    residual=True:  out = ReLU(z + x)   (the identity block: the shortcut adds x before the final ReLU)
    residual=False: out = ReLU(z)       (the same block without the shortcut)
    """

    def __init__(self, channels: int, residual: bool):
        super().__init__()
        # TODO: conv1, bn1, conv2, bn2 (Conv2d(channels, channels, 3, padding=1, bias=False), BatchNorm2d(channels)).

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("Block.forward is not written yet")


def make_net(depth: int, residual: bool) -> nn.Module:
    """(N, 1, 8, 8) digit images -> (N, 10) logits.

    stem: Conv2d(1, WIDTH, 3, padding=1, bias=False) -> BatchNorm2d(WIDTH) -> ReLU
    then `depth` blocks of WIDTH channels, global average pooling over H and W, Linear(WIDTH, 10).
    """
    raise NotImplementedError("make_net is not written yet")

# expect: full
# padding='same' on the stride-1 convolution, nn.Identity shortcut, the projection as a property.
import torch
from torch import nn


class PreActBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding="same", bias=False)
        self.shortcut = (nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)
                         if stride != 1 or in_channels != out_channels else nn.Identity())
        self.act = nn.ReLU()

    @property
    def projects(self) -> bool:
        return isinstance(self.shortcut, nn.Conv2d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.act(self.bn1(x))
        out = self.conv2(self.act(self.bn2(self.conv1(p))))
        return out + self.shortcut(p if self.projects else x)

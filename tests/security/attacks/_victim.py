"""Not an attack: another student's correct submission, graded just before the snooping attack.
It carries a marker (in its source, in memory and in a file in its /tmp) that nobody else may see."""
import torch
from torch import nn

MARKER = "__OTHER_MARKER__"
with open("/tmp/" + MARKER + ".txt", "w") as f:
    f.write(MARKER)
KEEP = [MARKER * 2]


class IdentityBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)

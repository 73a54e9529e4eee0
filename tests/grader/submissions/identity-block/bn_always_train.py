# expect: eval_mode_wrong
import torch
from torch import nn
import torch.nn.functional as F


class IdentityBlock(nn.Module):
    def __init__(self, channels, kernel_size=3):
        super().__init__()
        p = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=p, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=p, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.relu(F.batch_norm(self.conv1(x), None, None, self.bn1.weight, self.bn1.bias, training=True))
        out = F.batch_norm(self.conv2(out), None, None, self.bn2.weight, self.bn2.bias, training=True)
        return F.relu(out + x)

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
        h = self.conv2(F.relu(self.bn1(self.conv1(x))))
        out = F.batch_norm(h, self.bn2.running_mean, self.bn2.running_var, self.bn2.weight.data, self.bn2.bias, self.training, 0.1, 1e-5)
        self.bn2.num_batches_tracked += int(self.training)
        return F.relu(out + x)

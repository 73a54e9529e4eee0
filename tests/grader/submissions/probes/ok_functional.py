import torch
from torch import nn
import torch.nn.functional as F


class IdentityBlock(nn.Module):
    def __init__(self, channels, kernel_size=3):
        super().__init__()
        self.k = kernel_size
        for i in (1, 2):
            conv = nn.Conv2d(channels, channels, kernel_size, bias=False)
            self.register_parameter(f"w{i}", nn.Parameter(conv.weight.detach().clone()))
            self.register_parameter(f"g{i}", nn.Parameter(torch.ones(channels)))
            self.register_parameter(f"b{i}", nn.Parameter(torch.zeros(channels)))
            self.register_buffer(f"m{i}", torch.zeros(channels))
            self.register_buffer(f"v{i}", torch.ones(channels))
            self.register_buffer(f"n{i}", torch.tensor(0, dtype=torch.long))

    def bn(self, i, t):
        if self.training:
            getattr(self, f"n{i}").add_(1)
        return F.batch_norm(t, getattr(self, f"m{i}"), getattr(self, f"v{i}"), getattr(self, f"g{i}"),
                            getattr(self, f"b{i}"), self.training, 0.1, 1e-5)

    def forward(self, x):
        h = F.relu(self.bn(1, F.conv2d(x, self.w1, padding=self.k // 2)))
        return F.relu(self.bn(2, F.conv2d(h, self.w2, padding=self.k // 2)) + x)

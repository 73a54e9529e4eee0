# expect: full
import torch
from torch import nn
import torch.nn.functional as F


class ConvBlock(nn.Module):
    """Written differently again: raw parameters and buffers with F.conv2d / F.batch_norm."""

    def __init__(self, in_channels, out_channels, stride=2):
        super().__init__()
        self.stride = stride
        shapes = [(out_channels, in_channels, 3, 3), (out_channels, out_channels, 3, 3), (out_channels, in_channels, 1, 1)]
        for i, shape in enumerate(shapes):
            conv = nn.Conv2d(shape[1], shape[0], shape[2], bias=False)  # default init
            self.register_parameter(f"w{i}", nn.Parameter(conv.weight.detach().clone()))
            self.register_parameter(f"g{i}", nn.Parameter(torch.ones(out_channels)))
            self.register_parameter(f"b{i}", nn.Parameter(torch.zeros(out_channels)))
            self.register_buffer(f"mean{i}", torch.zeros(out_channels))
            self.register_buffer(f"var{i}", torch.ones(out_channels))
            self.register_buffer(f"count{i}", torch.tensor(0, dtype=torch.long))

    def _bn(self, i, t):
        if self.training:
            getattr(self, f"count{i}").add_(1)
        return F.batch_norm(t, getattr(self, f"mean{i}"), getattr(self, f"var{i}"), getattr(self, f"g{i}"),
                            getattr(self, f"b{i}"), training=self.training, momentum=0.1, eps=1e-5)

    def forward(self, x):
        h = torch.relu(self._bn(0, F.conv2d(x, self.w0, stride=self.stride, padding=1)))
        h = self._bn(1, F.conv2d(h, self.w1, padding=1))
        s = self._bn(2, F.conv2d(x, self.w2, stride=self.stride))
        return torch.relu(h + s)

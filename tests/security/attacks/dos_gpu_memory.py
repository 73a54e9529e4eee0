"""Attack: lift PyTorch's own GPU memory cap inside the sandbox, then take far more than the cap.

On a GPU worker the child caps the caching allocator before student code runs, but that cap is
the student's to undo (set_per_process_memory_fraction(1.0)). Contained when the trusted side, which
reads the driver's per-process count, kills the sandbox and the student is told it used too much
memory. On a CPU host the same file is graded with a stand-in reading (the process's RSS)."""

import time

import torch
from torch import nn

HOG_BYTES = __HOG_BYTES__


class IdentityBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        if x.is_cuda:
            torch.cuda.set_per_process_memory_fraction(1.0)
        hog = torch.empty(HOG_BYTES, dtype=torch.uint8, device=x.device)
        hog.fill_(1)  # touch every page: the memory is really held
        time.sleep(2.0)  # hold it long enough for any poll to see it
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x) + hog[:1].float() * 0

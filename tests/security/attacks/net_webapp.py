"""Attack: call the web app (127.0.0.1:8000) with HTTP, e.g. to post a grade or read other students'
pages. Contained when no connection is possible."""

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

import socket
import urllib.request

attempt("http://127.0.0.1:8000/ with urllib", lambda: urllib.request.urlopen("http://127.0.0.1:8000/", timeout=1).read(100))
attempt("raw TCP to 127.0.0.1:8000", lambda: socket.create_connection(("127.0.0.1", 8000), timeout=1))
attempt("raw TCP to 0.0.0.0:8000", lambda: socket.create_connection(("0.0.0.0", 8000), timeout=1))


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

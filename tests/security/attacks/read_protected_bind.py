"""Attack: the project installed INSIDE a folder the sandbox binds (an install under /usr/src/app):
read its secret through the /usr bind, and write into a writable mount below a read-only bind.
Contained when the protected folder shows empty (masked) and the submount is read-only too."""

import os

import torch
from torch import nn


def attempt(label, fn):
    try:
        got = fn()
    except BaseException as exc:  # noqa: BLE001
        print(f"BLOCKED {label}: {type(exc).__name__}: {str(exc)[:100]}")
        return None
    print(f"LEAK {label}: {str(got)[:200]!r}")
    return got


def read_secret():
    with open("__PROTECTED__/secret.txt") as f:
        return f.read()


def list_protected():
    names = os.listdir("__PROTECTED__")
    if not names:
        raise PermissionError("empty (masked)")
    return names


def write_submount():
    with open("__SUBMOUNT__/grader-attack-written", "w") as f:
        f.write("x")
    return "written"


attempt("read the protected file", read_secret)
attempt("list the protected folder", list_protected)
attempt("write below a read-only bind", write_submount)


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

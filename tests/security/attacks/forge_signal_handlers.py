"""Attack: signal handlers. Installs handlers that swallow SIGTERM/SIGINT/SIGHUP/SIGXCPU, and an
interval timer whose handler raises SystemExit / prints forged results at random moments while the
runner is talking to the grader. Contained when this only breaks the student's own replies."""

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

import json
import signal

FAKE = json.dumps({"score": 10.0, "max_score": 10.0, "status": "graded"})
for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU, signal.SIGUSR1):
    signal.signal(sig, lambda *_: print(FAKE))
TICKS = [0]


def on_alarm(*_):
    TICKS[0] += 1
    print(FAKE)
    if TICKS[0] % 3 == 0:
        raise SystemExit(0)


signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)


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

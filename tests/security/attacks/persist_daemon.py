"""Attack: leave a daemon behind: double fork, setsid, ignore SIGTERM/SIGHUP/SIGINT, close stdio,
and keep a heartbeat file fresh, so it outlives the job (and could watch the next one). Contained
when the whole pid namespace dies with the job: no process of the sandbox's uid is left on the host."""

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

import signal
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        os.closerange(0, 64)
        while True:
            try:
                with open("/tmp/grader-attack-heartbeat", "w") as f:
                    f.write(str(time.time()))
            except OSError:
                pass
            time.sleep(0.05)
    os._exit(0)
os.wait()
time.sleep(0.1)
print("daemon running:", os.path.exists("/tmp/grader-attack-heartbeat"))


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

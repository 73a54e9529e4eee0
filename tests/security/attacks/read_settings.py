"""Attack: read the service's settings and credentials: a world-readable secret file in the host's
/tmp, the Django settings module, .env files, the database URL, the host's /etc, and shared folders.
Contained when none of it is visible."""

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

PROJECT = "__PROJECT_ROOT__"
EXERCISE_DIR = "__EXERCISE_DIR__"
for path in ("__SECRET_FILE__", PROJECT + "/courseapp/settings.py", PROJECT + "/.env", PROJECT + "/manage.py",
             PROJECT + "/docker-compose.yml", EXERCISE_DIR + "/settings.py", "/etc/passwd", "/etc/shadow",
             "/etc/hostname", "/etc/hosts", "/root/.bash_history", "/root/.ssh/id_rsa", "/work/shared/spec/contracts.md",
             "/var/run/secrets/kubernetes.io/serviceaccount/token", "/run/secrets", "/etc/environment"):
    attempt(f"open {path}", lambda p=path: open(p).read())
attempt("import courseapp.settings", lambda: __import__("courseapp.settings"))
attempt("DJANGO_SETTINGS_MODULE", lambda: os.environ["DJANGO_SETTINGS_MODULE"])
attempt("DATABASE_URL", lambda: os.environ["DATABASE_URL"])


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

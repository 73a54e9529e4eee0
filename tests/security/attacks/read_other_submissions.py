"""Attack: find another student's submission (graded just before this one): in memory (the module
table, linecache, every string the garbage collector knows), in files (/tmp, the whole visible
tree outside the runtime), and in other processes' command lines. Contained when nothing is found."""

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

import gc
import linecache

PREFIX = "__OTHER_MARKER_PREFIX__"  # the first characters of the victim's marker
attempt("in linecache", lambda: [k for k, v in linecache.cache.items() if len(v) > 2 and PREFIX in "".join(v[2])
                                 and k != "submission.py"] or 1 / 0)
attempt("in gc strings", lambda: [o[:80] for o in gc.get_objects() if isinstance(o, str) and PREFIX in o
                                   and "PREFIX" not in o] or 1 / 0)
attempt("in modules", lambda: [m for m, mod in list(sys.modules.items())
                               if PREFIX in str(vars(mod).get("MARKER", ""))] or 1 / 0)
RUNTIME = ["/usr", "/proc", "/sys", "/dev", sys.base_prefix] + [p for p in sys.path if "-packages" in p]


def files_with_marker():
    hits = []
    for root, dirs, files in os.walk("/"):
        if any(root == p or root.startswith(p.rstrip("/") + "/") for p in RUNTIME):
            dirs[:] = []
            continue
        for f in files:
            try:
                if PREFIX in f or PREFIX in open(os.path.join(root, f), errors="ignore").read(1 << 20):
                    hits.append(os.path.join(root, f))
            except OSError:
                pass
    return hits or 1 / 0


attempt("in files", files_with_marker)
attempt("other processes", lambda: [p for p in os.listdir("/proc") if p.isdigit() and p != "1"] or 1 / 0)


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

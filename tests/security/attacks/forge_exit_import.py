"""Attack: end the process "successfully" at import with sys.exit(0), hoping a zero exit status
reads as a pass. Contained when the submission is graded 0 with a clear message."""

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

print("exiting with status 0")
sys.exit(0)

"""One CPU per worker: the worker's grading thread and its sandboxed child run on the same core.

A grade is a ping-pong of small commands between the trusted side and the child (dozens of round
trips, each waiting on the other). On one core each hand-over is a plain context switch with warm
caches; across cores every message is a cross-CPU wake-up. Workers on one machine take different
cores through lock files (held while the pool lives), so two workers never share one while
another core idles; with more workers than cores, the extra ones are not pinned.
"""

from __future__ import annotations

import fcntl
import os
import tempfile

ENV = "GRADER_PIN_CPU"  # "0" turns pinning off


class CpuSlot:
    def __init__(self, cpu: int, fd: int):
        self.cpu = cpu
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1


def claim_cpu() -> CpuSlot | None:
    if os.environ.get(ENV, "1").lower() in ("0", "off", "no", "false"):
        return None
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except OSError:
        return None
    if len(cpus) < 2:
        return None  # one core: everything shares it anyway
    for cpu in cpus:
        path = os.path.join(tempfile.gettempdir(), f"grader-cpu-{os.geteuid()}-{cpu}.lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return CpuSlot(cpu, fd)
    return None


class pinned_thread:
    """Context manager: run the calling thread on `cpu`, then restore its previous CPU set, unless
    `keep` (a process that only grades: moving a thread costs ~0.5 ms each way)."""

    def __init__(self, cpu: int | None, keep: bool = False):
        self.cpu = cpu
        self.keep = keep
        self._before: set[int] | None = None

    def __enter__(self) -> "pinned_thread":
        if self.cpu is not None:
            try:
                before = os.sched_getaffinity(0)
                if before != {self.cpu}:
                    os.sched_setaffinity(0, {self.cpu})
                    self._before = None if self.keep else before
            except OSError:
                self._before = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._before is not None:
            try:
                os.sched_setaffinity(0, self._before)
            except OSError:
                pass

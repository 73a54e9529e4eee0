"""Enforce a sandbox's GPU memory cap from outside it.

The child caps PyTorch's caching allocator (`set_per_process_memory_fraction`) before student code
runs, but that cap lives inside the student's process: code can raise it again or call cudaMalloc
through ctypes. So the trusted side also watches what the driver says the child's process holds
(NVML, which the sandbox cannot reach or lie to) and kills the whole sandbox when it goes over.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from typing import Callable, Protocol

POLL_S = 0.02
# NVML counts the CUDA context and cuDNN/cuBLAS workspaces too, not only the allocator's blocks.
CONTEXT_SLACK_BYTES = 1 << 30


class _Killable(Protocol):
    dead: bool
    pid: int
    host_memory_cap_mb: int  # set where neither a cgroup nor RLIMIT_AS bounds host memory (GPU jobs)

    def kill_for_memory(self, detail: str) -> None: ...


def anonymous_resident_bytes(pid: int) -> int:
    """RssAnon: the process's own memory, without the (large, shared) CUDA libraries it maps."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class GpuMemoryWatch:
    """Watches one sandbox at a time: its GPU memory (NVML, the GPU this worker is pinned to) and,
    for GPU jobs, its host memory."""

    def __init__(self, fraction: float, read_used: Callable[[int], int] | None = None, total_bytes: int = 0,
                 slack_bytes: int = CONTEXT_SLACK_BYTES):
        """read_used(pid) -> bytes of GPU memory; None means "ask NVML", and where NVML is missing
        only host memory is watched (the allocator's cap is then the only GPU limit)."""
        self._read_used = read_used
        self.total_bytes = total_bytes
        if read_used is None:
            try:
                self._read_used, self.total_bytes = _nvml_reader()
            except Exception as exc:  # noqa: BLE001 - ImportError, NVMLError, a bad CUDA_VISIBLE_DEVICES
                print(f"grader: GPU memory is capped by PyTorch's allocator only (no NVML: "
                      f"{type(exc).__name__}: {exc})", file=sys.stderr)
        self.cap_bytes = int(self.total_bytes * fraction) + slack_bytes

    @property
    def reads_gpu(self) -> bool:
        return self._read_used is not None

    def used_by(self, pid: int) -> int:
        return self._read_used(pid) if self._read_used is not None else 0

    def watch(self, child: _Killable) -> threading.Thread:
        """Poll until the child is gone; kill it the moment it holds more than the cap."""

        def run() -> None:
            while not child.dead:
                try:
                    used = self.used_by(child.pid)
                except Exception:  # noqa: BLE001 - a driver hiccup must not kill an honest job
                    used = 0
                if used > self.cap_bytes:
                    child.kill_for_memory(f"its process held {used / 2**30:.1f} GiB of GPU memory, over the "
                                          f"sandbox's cap of {self.cap_bytes / 2**30:.1f} GiB")
                    return
                host_cap = child.host_memory_cap_mb << 20
                if host_cap and child.pid and anonymous_resident_bytes(child.pid) > host_cap:
                    child.kill_for_memory(f"its process used more than the sandbox's {child.host_memory_cap_mb} MB "
                                          f"of (host) memory")
                    return
                time.sleep(POLL_S)

        t = threading.Thread(target=run, daemon=True, name="sandbox-gpu-memory")
        t.start()
        return t


def _nvml_reader() -> tuple[Callable[[int], int], int]:
    # nvidia-ml-py, in the GPU image only (untyped: its attributes are Any); ImportError elsewhere.
    pynvml = importlib.import_module("pynvml")

    pynvml.nvmlInit()
    # The worker's GPU: CUDA_VISIBLE_DEVICES' first entry, an index as NVML numbers devices or a UUID.
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip() or "0"
    handle = (pynvml.nvmlDeviceGetHandleByIndex(int(first)) if first.isdigit()
              else pynvml.nvmlDeviceGetHandleByUUID(first))
    total = int(pynvml.nvmlDeviceGetMemoryInfo(handle).total)

    def read_used(pid: int) -> int:
        for proc in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
            if proc.pid == pid:
                return int(proc.usedGpuMemory or 0)
        return 0

    return read_used, total


"""The GPU side of the sandbox, enforced from outside it.

Memory: the child caps PyTorch's caching allocator (`set_per_process_memory_fraction`) before student
code runs, but that cap lives inside the student's process: code can raise it again or call cudaMalloc
through ctypes. So the trusted side also asks the driver (NVML, which the sandbox cannot reach or lie
to) what every process of the sandbox holds, adds it up, and kills the whole sandbox when the sum goes
over; the same watch bounds a GPU job's host memory (it has no RLIMIT_AS).

Devices: the sandbox sees only the GPU its worker is pinned to (its /dev/nvidiaN, found by NVML's
minor number) plus the control nodes CUDA needs, never the other GPUs of the host.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import threading
import time
from typing import Any, Callable, Iterable, Protocol

POLL_S = 0.02
# NVML counts the CUDA context and cuDNN/cuBLAS workspaces too, not only the allocator's blocks.
CONTEXT_SLACK_BYTES = 1 << 30
# The nodes every CUDA process needs besides its GPU's own /dev/nvidiaN.
CONTROL_NODES = ("nvidiactl", "nvidia-uvm", "nvidia-uvm-tools")

UsageReader = Callable[[Iterable[int]], dict[int, int]]  # pids -> {pid: bytes of GPU memory it holds}


class _Watched(Protocol):
    dead: bool
    pid: int
    host_memory_cap_mb: int  # set where no RLIMIT_AS bounds host memory (GPU jobs)

    def sandbox_pids(self) -> list[int]: ...

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
    """Watches one sandbox at a time: the GPU memory of all its processes (NVML, on the GPU this worker
    is pinned to) and, for GPU jobs, their host memory."""

    def __init__(
        self,
        fraction: float,
        read_usage: UsageReader | None = None,
        total_bytes: int = 0,
        slack_bytes: int = CONTEXT_SLACK_BYTES,
    ):
        """read_usage(pids) -> {pid: bytes}; None means "ask NVML", and where NVML is missing only host
        memory is watched (the allocator's cap is then the only GPU limit)."""
        self._read_usage = read_usage
        self.total_bytes = total_bytes
        if read_usage is None:
            try:
                self._read_usage, self.total_bytes = _nvml_reader()
            except Exception as exc:  # noqa: BLE001 - ImportError, NVMLError, a bad CUDA_VISIBLE_DEVICES
                print(
                    f"grader: GPU memory is capped by PyTorch's allocator only (no NVML: {type(exc).__name__}: {exc})",
                    file=sys.stderr,
                )
        self.cap_bytes = int(self.total_bytes * fraction) + slack_bytes

    @property
    def reads_gpu(self) -> bool:
        return self._read_usage is not None

    def used_by(self, pids: list[int]) -> int:
        """GPU memory held by these processes together."""
        if self._read_usage is None or not pids:
            return 0
        usage = self._read_usage(pids)
        return sum(usage.get(pid, 0) for pid in pids)

    def watch(self, child: _Watched) -> threading.Thread:
        """Poll until the child is gone; kill it the moment its processes hold more than the cap."""

        def run() -> None:
            while not child.dead:
                pids = child.sandbox_pids()
                try:
                    used = self.used_by(pids)
                except Exception:  # noqa: BLE001 - a driver hiccup must not kill an honest job
                    used = 0
                if used > self.cap_bytes:
                    child.kill_for_memory(
                        f"its {len(pids)} process(es) held {used / 2**30:.1f} GiB of GPU memory, "
                        f"over the sandbox's cap of {self.cap_bytes / 2**30:.1f} GiB"
                    )
                    return
                host_cap = child.host_memory_cap_mb << 20
                if host_cap and sum(anonymous_resident_bytes(p) for p in pids) > host_cap:
                    child.kill_for_memory(
                        f"its processes used more than the sandbox's {child.host_memory_cap_mb} MB of (host) memory"
                    )
                    return
                time.sleep(POLL_S)

        t = threading.Thread(target=run, daemon=True, name="sandbox-gpu-memory")
        t.start()
        return t


def _nvml() -> Any:
    # nvidia-ml-py, in the GPU image only (untyped: its attributes are Any); ImportError elsewhere.
    pynvml = importlib.import_module("pynvml")
    pynvml.nvmlInit()
    return pynvml


def _pinned_handle(pynvml: Any) -> Any:
    """The worker's GPU: CUDA_VISIBLE_DEVICES' first entry, an index as NVML numbers devices or a UUID."""
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip() or "0"
    return pynvml.nvmlDeviceGetHandleByIndex(int(first)) if first.isdigit() else pynvml.nvmlDeviceGetHandleByUUID(first)


def nvml_usage(pynvml: Any, handle: Any, pids: Iterable[int]) -> dict[int, int]:
    """What the driver says each of these processes holds on the GPU (the thin NVML query)."""
    wanted = set(pids)
    return {
        int(p.pid): int(p.usedGpuMemory or 0)
        for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
        if p.pid in wanted
    }


def _nvml_reader() -> tuple[UsageReader, int]:
    pynvml = _nvml()
    handle = _pinned_handle(pynvml)
    total = int(pynvml.nvmlDeviceGetMemoryInfo(handle).total)
    return (lambda pids: nvml_usage(pynvml, handle, pids)), total


def pinned_gpu_minor(dev_entries: list[str]) -> int:
    """The minor number of the pinned GPU's /dev/nvidiaN (NVML's word; CUDA's index order differs from
    the device nodes' on many hosts). Without NVML only an unambiguous host (one GPU node) is accepted."""
    try:
        pynvml = _nvml()
        return int(pynvml.nvmlDeviceGetMinorNumber(_pinned_handle(pynvml)))
    except Exception as exc:  # noqa: BLE001 - ImportError, NVMLError
        nodes = sorted(int(n[6:]) for n in dev_entries if re.fullmatch(r"nvidia\d+", n))
        if len(nodes) == 1:
            return nodes[0]
        raise OSError(
            f"cannot tell which of /dev/nvidia{nodes} is this worker's GPU without NVML "
            f"(nvidia-ml-py): {type(exc).__name__}: {exc}"
        ) from None


def gpu_device_nodes(dev_entries: list[str], minor: int) -> list[str]:
    """The /dev names a sandbox on GPU `minor` gets: its own node and the control nodes, nothing else."""
    wanted = {f"nvidia{minor}", *CONTROL_NODES}
    return sorted(n for n in dev_entries if n in wanted)

"""Per-job cgroups: one memory (and process-count) limit for the WHOLE sandbox, every process in it.

RLIMIT_AS limits each process on its own, so a submission that forks N children gets N times its
memory budget; a cgroup limits their sum, and the kernel's OOM killer stops the sandbox, not the
host. Used where the host lets us create cgroups (cgroup v1 memory/pids hierarchies writable by the
worker, or a delegated cgroup v2 subtree); elsewhere this module reports "unavailable" once and the
sandbox keeps its rlimits. GRADER_CGROUP=off disables it; GRADER_CGROUP=/sys/fs/cgroup/<dir> names a
delegated v2 directory (or v1 memory directory) to create job cgroups in.

Only the trusted side (the pool, in the worker) touches these files; the sandbox never sees /sys.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
ENV = "GRADER_CGROUP"
CPU_WEIGHT_ENV = "GRADER_CPU_WEIGHT"
DEFAULT_CPU_WEIGHT = 20  # cgroup v2 scale (default 100): a sandbox yields a busy core to the web


def grading_cpu_weight() -> int:
    try:
        return max(0, min(10000, int(os.environ.get(CPU_WEIGHT_ENV, DEFAULT_CPU_WEIGHT))))
    except ValueError:
        return DEFAULT_CPU_WEIGHT


@dataclass
class JobCgroup:
    """The cgroup directories of one sandbox (one per hierarchy: v2 has one, v1 memory + pids)."""

    version: int
    memory_dir: Path
    pids_dir: Path | None
    released: bool = False  # its sandbox is over: remove it as soon as its processes are gone

    def dirs(self) -> list[Path]:
        return [self.memory_dir] + ([self.pids_dir] if self.pids_dir is not None else [])

    def yield_cpu(self, weight: int) -> None:
        """A CPU weight below the default (100), so the web's processes win a busy core. cgroup v2 only:
        on v1 a third hierarchy per sandbox would put a slow cgroup migration on every spawn, and nice
        (set by the fork server) already orders processes that share one cpu cgroup."""
        if self.version == 2:
            _write(self.memory_dir / "cpu.weight", str(weight), optional=True)

    def limit(self, memory_bytes: int, pids: int) -> None:
        if self.version == 2:
            _write(self.memory_dir / "memory.max", str(memory_bytes))
            _write(self.memory_dir / "memory.swap.max", "0", optional=True)
            _write(self.memory_dir / "memory.oom.group", "1", optional=True)  # one OOM kills the sandbox
            _write(self.memory_dir / "pids.max", str(pids), optional=True)
        else:
            _write(self.memory_dir / "memory.limit_in_bytes", str(memory_bytes))
            _write(self.memory_dir / "memory.memsw.limit_in_bytes", str(memory_bytes), optional=True)
            if self.pids_dir is not None:
                _write(self.pids_dir / "pids.max", str(pids), optional=True)

    def pids(self) -> list[int]:
        """Host pids of every process in this cgroup (no process can leave it on its own)."""
        try:
            return [int(x) for x in (self.memory_dir / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def oom_killed(self) -> bool:
        """Whether the kernel killed a process of this sandbox for the cgroup's memory limit."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            for line in (self.memory_dir / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def remove(self) -> bool:
        """rmdir every directory; False while processes are still exiting (try again later)."""
        done = True
        for d in self.dirs():
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                done = False
        return done


def _write(path: Path, value: str, *, optional: bool = False) -> None:
    try:
        path.write_text(value)
    except OSError:
        if not optional:
            raise


def remove_orphan_cgroups(parent: Path, prefix: str = "grader-") -> None:
    """Remove the (empty) cgroups `parent/<prefix><worker pid>[-...]` of workers that died without
    cleaning up (SIGKILL, OOM), with their job-* children."""
    try:
        entries = list(parent.glob(prefix + "*"))
    except OSError:
        return
    for d in entries:
        try:
            os.kill(int(d.name[len(prefix) :].split("-")[0]), 0)  # grader-<worker pid>-<pool number>
            continue  # its worker is alive
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue
        for job in d.glob("job-*"):
            try:
                job.rmdir()  # only succeeds once every process in it is gone
            except OSError:
                pass
        try:
            d.rmdir()
        except OSError:
            pass


def own_cgroups() -> dict[str, str]:
    """controller (or '' for v2) -> our cgroup path, from /proc/self/cgroup."""
    out: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                out[c] = path
    except (OSError, ValueError):
        pass
    return out


_POOL_NUMBERS = itertools.count(1)


@dataclass
class CgroupParent:
    """Where this worker makes its job cgroups (a directory of its own, removed at close)."""

    version: int
    memory_base: Path
    pids_base: Path | None
    seq: int = 0
    cpu_weight: int = 0  # 0: leave the sandboxes' CPU weight alone
    _jobs: list[JobCgroup] = field(default_factory=list)  # made and not removed yet

    @classmethod
    def detect(cls) -> "CgroupParent | None":
        """A working parent, or None (with one line on stderr saying why) when the host does not allow it."""
        setting = os.environ.get(ENV, "")
        if setting.lower() in ("0", "off", "no", "false"):
            return None
        # One directory per pool, not per process: two Graders in one process (tests, a CLI inside a
        # worker) must never share, or close, each other's cgroups.
        name = f"grader-{os.getpid()}-{next(_POOL_NUMBERS)}"
        try:
            if setting:
                base = Path(setting)
                version = 2 if (base / "cgroup.controllers").exists() else 1
                return cls._make(version, base / name, None)
            own = own_cgroups()
            if (ROOT / "cgroup.controllers").exists():  # pure cgroup v2
                base = ROOT / own.get("", "/").lstrip("/")
                return cls._make(2, base / name, None)
            if (ROOT / "memory" / "memory.limit_in_bytes").exists() and "memory" in own:  # cgroup v1
                mem = ROOT / "memory" / own["memory"].lstrip("/") / name
                pids = (
                    ROOT / "pids" / own["pids"].lstrip("/") / name
                    if "pids" in own and (ROOT / "pids").is_dir()
                    else None
                )
                return cls._make(1, mem, pids)
            raise OSError("no cgroup memory controller is mounted")
        except OSError as exc:
            print(
                f"grader: no per-sandbox cgroup ({exc}); memory is limited per process (RLIMIT_AS) only",
                file=sys.stderr,
            )
            return None

    @classmethod
    def _make(cls, version: int, memory_base: Path, pids_base: Path | None) -> "CgroupParent":
        for base in (memory_base, pids_base):
            if base is not None:
                remove_orphan_cgroups(base.parent)
        memory_base.mkdir(exist_ok=True)
        try:
            if version == 2:
                # Children of this directory get the memory and pids controllers. (A v2 directory that
                # holds processes itself cannot delegate: that raises here and we go without.)
                try:
                    (memory_base / "cgroup.subtree_control").write_text("+memory +pids")
                except FileNotFoundError:
                    # Our parent does not hand these controllers down yet. Ask it to: allowed where it
                    # holds no processes itself, e.g. the root cgroup of a VM where the worker runs as root.
                    (memory_base.parent / "cgroup.subtree_control").write_text("+memory +pids")
                    (memory_base / "cgroup.subtree_control").write_text("+memory +pids")
                _write(memory_base / "cgroup.subtree_control", "+cpu", optional=True)  # for cpu.weight
            if pids_base is not None:
                try:
                    pids_base.mkdir(exist_ok=True)
                except OSError:
                    pids_base = None
            parent = cls(version, memory_base, pids_base, cpu_weight=grading_cpu_weight())
            probe = parent.create()  # prove a job cgroup can be made and limited here (the fork server
            probe.limit(64 << 20, 16)  # reports, per sandbox, whether it could join one)
            probe.remove()
            return parent
        except OSError:
            try:
                memory_base.rmdir()
            except OSError:
                pass
            raise

    def create(self) -> JobCgroup:
        self.collect()
        self.seq += 1
        name = f"job-{self.seq}"
        mem = self.memory_base / name
        mem.mkdir()
        pids = None
        if self.pids_base is not None:
            pids = self.pids_base / name
            try:
                pids.mkdir()
            except OSError:
                pids = None
        cg = JobCgroup(self.version, mem, pids)
        self._jobs.append(cg)
        if self.cpu_weight:
            cg.yield_cpu(self.cpu_weight)
        return cg

    def discard(self, cg: JobCgroup) -> None:
        """The job is over (its processes were killed): remove its cgroup now or at a later call."""
        cg.released = True
        if cg.remove():
            self._jobs = [j for j in self._jobs if j is not cg]

    def collect(self) -> None:
        self._jobs = [cg for cg in self._jobs if not (cg.released and cg.remove())]

    def close(self, wait_s: float = 2.0) -> None:
        """Remove every job cgroup (all sandboxes are being killed) and our own directory."""
        for cg in self._jobs:
            cg.released = True
        end = time.monotonic() + wait_s
        while self._jobs and time.monotonic() < end:
            self.collect()
            if self._jobs:
                time.sleep(0.02)
        for d in (self.memory_base, self.pids_base):
            if d is not None:
                try:
                    d.rmdir()
                except OSError:
                    pass

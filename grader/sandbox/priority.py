"""Web first: grading yields the CPU to the web on a machine they share.

A nice value alone is not enough wherever the kernel groups processes before it weighs them:

- **autogroup** (``kernel.sched_autogroup_enabled = 1``, the default of many kernels, this VM's
  included): every session (``setsid``) of the root cpu cgroup is a scheduling group of its own, and
  the groups share the CPU EQUALLY whatever their processes' nice values (nice only orders threads
  inside one group). The worker, each sandbox (its pid 1 calls ``setsid``) and the web are each a
  nice-0 group: two busy graders with their sandboxes then take four shares to the web's one.
- **cpu cgroups** (Docker, systemd services): each cgroup's weight decides, again not the nice.

So, on top of the nice:

1. ``join_grading_cpu_cgroup``: the worker moves itself into a cpu cgroup of its own whose weight is
   its nice's weight (nice 10: 110 against the default 1024), where the host lets it (cgroup v1 with
   a writable ``cpu`` hierarchy, as root here). Everything it starts later (fork server, sandboxes,
   their children, whatever sessions they make) is born inside, and autogroups, which only group the
   root cgroup's tasks, no longer apply to any of them. One migration per worker, none per grade.
   ``GRADER_CPU_CGROUP=off`` disables it.
2. Otherwise ``set_autogroup_nice``: the worker's session where the worker leads it (never a session
   it shares with its launcher, which may hold the web), and each sandbox's session, set by the fork
   server (in the host's user namespace) once the sandbox's pid 1 has called ``setsid``: the kernel
   lets an unprivileged or namespaced writer change an autogroup only once per 100 ms machine-wide,
   too rarely for one write per grade, while the fork server of a root worker is not limited.

Every step is best effort and quiet: a host without these files grades as before (at the nice only).
"""

from __future__ import annotations

import atexit
import errno
import os
from pathlib import Path

from grader.sandbox.cgroup import own_cgroups, remove_orphan_cgroups

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_CGROUP_ENV = "GRADER_CPU_CGROUP"


# The kernel's sched_prio_to_weight for nice 0..19 (each step about 1.25 times less CPU).
_WEIGHTS = (1024, 820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87, 70, 56, 45, 36, 29, 23, 18, 15)


def nice_weight(nice: int) -> int:
    """The scheduler's weight of a nice value 0..19 (10 -> 110, against 1024 at nice 0)."""
    return _WEIGHTS[max(0, min(19, nice))]


def in_root_cpu_cgroup() -> bool:
    """Whether autogroups apply to this process (they only group the root cpu cgroup's tasks)."""
    own = own_cgroups()
    path = own.get("cpu", own.get(""))  # v1's cpu hierarchy, else cgroup v2's unified line
    return path in (None, "/")


def autogroup_nice(pid: int | None = None) -> int | None:
    """The nice of the autogroup `pid` (default: this process) belongs to, None without autogroups."""
    try:
        text = Path(f"/proc/{pid or 'self'}/autogroup").read_text()
    except OSError:
        return None
    try:
        return int(text.rsplit("nice", 1)[1])
    except (IndexError, ValueError):
        return None


def set_autogroup_nice(nice: int, pid: int | None = None) -> bool:
    """Lower (never raise) the priority of `pid`'s autogroup to `nice`; False where it could not be
    (no autogroups, not allowed, or the kernel's once-per-100-ms limit for unprivileged writers)."""
    current = autogroup_nice(pid)
    if current is None:
        return False
    if current >= nice:
        return True
    try:
        Path(f"/proc/{pid or 'self'}/autogroup").write_text(str(max(0, min(19, nice))))
    except OSError:
        return False
    return True


def yield_own_session(nice: int) -> bool:
    """The autogroup of this process's session, at `nice`, only where this process leads the session
    (a session shared with a launcher may hold the web) and autogroups apply to it."""
    if os.getsid(0) != os.getpid() or not in_root_cpu_cgroup():
        return False
    return set_autogroup_nice(nice)


def join_grading_cpu_cgroup(nice: int) -> Path | None:
    """Move this whole process into a cpu cgroup of its own, weighted as `nice` (see the module's
    docstring); the directory, or None where the host does not allow it (and nothing changed)."""
    if os.environ.get(CPU_CGROUP_ENV, "").lower() in ("0", "off", "no", "false") or nice <= 0:
        return None
    own = own_cgroups().get("cpu")
    hierarchy = CGROUP_ROOT / "cpu"
    if own is None or not (hierarchy / "cpu.shares").exists():
        return None
    base = hierarchy / own.lstrip("/")
    if base.name.startswith("grading-"):
        return base  # already inside one (a pool process of a worker that joined)
    remove_orphan_cgroups(base, "grading-")
    target = base / f"grading-{os.getpid()}"
    try:
        target.mkdir(exist_ok=True)
        (target / "cpu.shares").write_text(str(nice_weight(nice)))
        (target / "cgroup.procs").write_text(str(os.getpid()))  # v1: every thread of this process
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.EBUSY, errno.EINVAL):
            raise
        try:
            target.rmdir()
        except OSError:
            pass
        return None
    atexit.register(_leave, base, target, os.getpid())
    return target


def _leave(base: Path, target: Path, pid: int) -> None:
    """At exit: back to the parent cgroup and remove ours (once the children that were in it are gone;
    otherwise the next worker's start removes it)."""
    if os.getpid() != pid:  # a forked child running atexit handlers
        return
    try:
        (base / "cgroup.procs").write_text(str(pid))
        target.rmdir()
    except OSError:
        pass

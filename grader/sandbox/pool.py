"""The trusted side's warm executor pool: one fork server (torch already imported) and a few
sandboxed children forked ahead of need (`prefork`), so a grade pays neither the torch import nor
the sandbox setup. Each child runs exactly one submission and is killed afterwards (with its whole
pid namespace); the fork server is recycled after `recycle_after` children.

The pieces live beside this module: errors.py (what can go wrong), session.py (one child: its
channel, limits, usage and death), output.py (its stdout), hostcheck.py (why a host cannot run a
sandbox), cgroup.py, cpuslot.py, gpu.py, zygote.py (the fork server) and linux.py.
"""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from grader.protocol import ProtocolError, recv_message
from grader.sandbox.binds import BindPlan, protected_paths
from grader.sandbox.cgroup import CgroupParent, JobCgroup
from grader.sandbox.cpuslot import CpuSlot, claim_cpu
from grader.sandbox.errors import SandboxDied, SandboxUnavailable, StudentError
from grader.sandbox.gpu import GpuMemoryWatch, pinned_gpu_minor
from grader.sandbox.hostcheck import (
    GPU_NO_CGROUP_ENV,
    INSECURE_ENV,
    gpu_without_cgroup_allowed,
    grading_nice,
    insecure_requested,
    setup_failure,
)
from grader.sandbox.output import STDOUT_CAP, OutputDrain
from grader.sandbox.session import CGROUP_GPU_SLACK_MB, Child

# Importers of the names that lived here before the split (checks.py files, grader/checklib.py).
__all__ = [
    "SandboxPool",
    "Child",
    "StudentError",
    "SandboxDied",
    "SandboxUnavailable",
    "INSECURE_ENV",
    "insecure_requested",
    "STDOUT_CAP",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GPU_PREFORK_MAX = 16


def gpu_prefork_default() -> int:
    """Children a GPU worker keeps ahead: one per core beyond the two the grade itself uses (its grading
    thread and its child), at least 3. A child's CUDA start-up (~0.5 s) over a grade (~50 ms) needs about
    ten in parallel to keep up with back-to-back grades; each holds a CUDA context (~0.5 GB of GPU memory)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except OSError:
        cores = os.cpu_count() or 1
    return max(3, min(GPU_PREFORK_MAX, cores - 2))


class SandboxPool:
    """One fork server and `prefork` children forked ahead of need (a worker grades one submission
    at a time; the children ahead set themselves up while it does)."""

    def __init__(
        self,
        *,
        device: str = "cpu",
        isolate: bool | None = None,
        recycle_after: int = 500,
        start_timeout_s: float = 180.0,
        gpu_memory_fraction: float = 0.25,
        cgroups: bool = True,
        simulate_no_userns: bool = False,
        gpu_watch: GpuMemoryWatch | None = None,
        prefork: int | None = None,
        protected_paths: list[str] | None = None,
        gpu_host_slack_mb: int = CGROUP_GPU_SLACK_MB,
    ):
        """protected_paths: folders and files no sandbox may see, besides the project, its exercises,
        VAR_DIR and the secret key (grader/sandbox/binds.py)."""
        self.device = device
        self.protected_paths = list(protected_paths or [])
        self.bind_plan = BindPlan()  # what the sandbox's root shows, as the fork server reports it
        self.gpu_host_slack_mb = gpu_host_slack_mb
        self.nice = grading_nice()
        self.isolate = (not insecure_requested()) if isolate is None else isolate
        self.recycle_after = recycle_after
        self.start_timeout_s = start_timeout_s
        self.gpu_memory_fraction = gpu_memory_fraction
        # Tests only: make the fork server fail unshare() as a host without user namespaces would.
        self.simulate_no_userns = simulate_no_userns
        self._want_cgroups = cgroups and self.isolate
        self._cgroups: CgroupParent | None = None
        self._cgroups_checked = False
        self._zygote: subprocess.Popen[bytes] | None = None
        self._ctrl: socket.socket | None = None
        self._spawned = 0
        # Children forked ahead, oldest first. Two on a CPU worker (more would compete with the
        # grade for the same cores). On a GPU worker, each child initialises CUDA (~0.5 s of one core)
        # after its fork, off the grading path: enough of them set up in parallel, one per spare core,
        # keep a warm one ready for every back-to-back grade (see gpu_prefork_default).
        if prefork is None:
            setting = os.environ.get("GRADER_PREFORK", "")
            prefork = int(setting) if setting.isdigit() else (gpu_prefork_default() if device.startswith("cuda") else 2)
        self.prefork = max(1, prefork)
        self._ready: collections.deque[Child] = collections.deque()
        self._refiller: threading.Thread | None = None
        self._refill_wanted = threading.Event()
        self._closing = False
        self._cpu_slot: CpuSlot | None = None
        self._lock = threading.Lock()
        # GPU memory is enforced from outside too (the allocator's cap is the student's to undo).
        self._gpu_watch = gpu_watch
        if gpu_watch is None and device.startswith("cuda"):
            self._gpu_watch = GpuMemoryWatch(gpu_memory_fraction)

    # ---- zygote ----------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "GRADER_PROJECT_ROOT": str(PROJECT_ROOT),
        }
        if self.device.startswith("cuda"):
            for key in ("CUDA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
                if key in os.environ:
                    env[key] = os.environ[key]
        # Correctness switches for some CPUs' OpenBLAS; not secrets.
        for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
            if key in os.environ:
                env[key] = os.environ[key]
        return env

    @property
    def cpu(self) -> int | None:
        """The core this pool's grades run on (see grader/sandbox/cpuslot.py), or None."""
        return self._cpu_slot.cpu if self._cpu_slot is not None else None

    def start(self) -> None:
        with self._lock:
            if self._zygote is None:
                self._start_zygote()

    def _require_gpu_cgroup(self) -> None:
        """A GPU job has no RLIMIT_AS (CUDA reserves terabytes of address space): without a cgroup,
        nothing but the watch of its processes' memory would bound its host memory or its processes.
        Refuse, as for namespaces, unless the operator says otherwise explicitly."""
        if not (self.device.startswith("cuda") and self.isolate):
            return
        if not self._cgroups_checked:
            self._cgroups_checked = True
            self._cgroups = CgroupParent.detect() if self._want_cgroups else None
        if self._cgroups is None and not gpu_without_cgroup_allowed():
            raise SandboxUnavailable(
                "a GPU worker needs a cgroup for each sandbox's memory and process limits (GPU jobs have no "
                "address-space limit), and this host gives the worker none: run it with a delegated cgroup "
                "(cgroup v2 with the memory and pids controllers, or GRADER_CGROUP=<writable cgroup directory>). "
                f"For development only, {GPU_NO_CGROUP_ENV}=1 starts it without one."
            )

    def _start_zygote(self) -> None:
        self._require_gpu_cgroup()
        options: dict[str, Any] = {
            "device": self.device,
            "isolate": self.isolate,
            "gpu_memory_fraction": self.gpu_memory_fraction,
            "simulate_no_userns": self.simulate_no_userns,
            "nice": self.nice,
            "protected": protected_paths(PROJECT_ROOT, self.protected_paths),
        }
        if self.device.startswith("cuda") and self.isolate:
            try:
                options["gpu_minor"] = pinned_gpu_minor(os.listdir("/dev"))
            except OSError as exc:
                raise SandboxUnavailable(f"the sandbox cannot be set up on this host: {exc}") from None
        if self._cpu_slot is None:
            self._cpu_slot = claim_cpu()
        # The child sets itself up on any core (beside the previous grade) and moves to ours just
        # before it reports ready.
        options["cpu"] = self.cpu
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        bootstrap = "import sys; sys.path.insert(0, sys.argv.pop(1)); from grader.sandbox.zygote import main; main()"
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", bootstrap, str(PROJECT_ROOT), str(child.fileno()), json.dumps(options)],
                env=self._env(),
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                cwd="/",
                stdout=subprocess.DEVNULL,
                stderr=None,
            )
        except OSError as exc:
            raise SandboxUnavailable(f"could not start the sandbox's fork server: {exc}") from None
        try:
            # Not the grading thread's single core, which Popen passed on: children set themselves
            # up on any core and only then move to ours (see "cpu" above).
            os.sched_setaffinity(proc.pid, set(range(os.cpu_count() or 1)))
        except OSError:
            pass
        child.close()
        parent.settimeout(self.start_timeout_s)
        try:
            msg = parent.recv(4096)
        except socket.timeout:
            proc.kill()
            raise SandboxUnavailable("the sandbox's fork server did not start in time") from None
        if not msg:
            proc.wait()
            raise SandboxUnavailable(f"the sandbox's fork server exited during start-up (status {proc.returncode})")
        hello = json.loads(msg)
        if not hello.get("ready"):
            proc.wait()
            raise SandboxUnavailable(f"the sandbox cannot be set up on this host: {hello.get('error')}")
        self.bind_plan = BindPlan(list(hello.get("binds", [])), list(hello.get("masks", [])))
        parent.settimeout(None)
        self._zygote, self._ctrl, self._spawned = proc, parent, 0

    def _stop_zygote(self) -> None:
        if self._ctrl is not None:
            try:
                self._ctrl.send(b'{"op": "exit"}')
            except OSError:
                pass
            self._ctrl.close()
        if self._zygote is not None:
            try:
                self._zygote.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._zygote.kill()
                self._zygote.wait()
        self._zygote, self._ctrl = None, None

    # ---- children --------------------------------------------------------------------------
    def _spawn(self) -> Child:
        if self._zygote is None or self._zygote.poll() is not None or self._spawned >= self.recycle_after:
            self._discard_ready()  # children forked ahead die with their fork server (PDEATHSIG)
            self._stop_zygote()
            self._start_zygote()
        assert self._ctrl is not None
        cgroup = self._new_cgroup()
        request: dict[str, Any] = {"op": "spawn"}
        if cgroup is not None:
            # The fork server moves C1 into it before C1 forks the sandbox's pid 1, so every sandbox
            # process is born inside (and the slow cgroup migration happens off the grading path).
            request["cgroup_procs"] = [str(d / "cgroup.procs") for d in cgroup.dirs()]
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        status_r, status_w = os.pipe()
        try:
            socket.send_fds(self._ctrl, [json.dumps(request).encode()], [theirs.fileno(), out_w, status_w])
        except OSError as exc:
            ours.close()
            os.close(out_r)
            os.close(status_r)
            self._stop_zygote()
            if cgroup is not None and self._cgroups is not None:
                self._cgroups.discard(cgroup)
            raise SandboxUnavailable(f"the fork server is gone: {exc}") from None
        finally:
            theirs.close()
            os.close(out_w)
            os.close(status_w)
        self._spawned += 1
        output = OutputDrain(out_r)
        output.start()
        # The zygote's reply is read when the child is needed: forking runs while we do other work.
        return Child(
            sock=ours, output=output, status_fd=status_r, cgroup=cgroup, gpu_host_slack_mb=self.gpu_host_slack_mb
        )

    def _discard_ready(self) -> None:
        """Drop the children forked ahead (reading the fork server's replies to them first)."""
        while self._ready:
            child = self._ready.popleft()
            try:
                self._spawn_reply(child)
            except SandboxUnavailable:
                pass
            child.close()
            self._drop_cgroup(child)

    def _spawn_reply(self, child: Child) -> None:
        if not child.spawn_pending:
            return
        child.spawn_pending = False
        assert self._ctrl is not None
        try:
            self._ctrl.settimeout(30)
            reply = json.loads(self._ctrl.recv(4096) or b"{}")
        except (OSError, json.JSONDecodeError) as exc:
            child.close()
            self._stop_zygote()
            raise SandboxUnavailable(f"the fork server did not answer: {exc}") from None
        if not reply.get("ok"):
            child.close()
            self._drop_cgroup(child)
            raise setup_failure("fork", str(reply.get("error")))
        c1 = reply.get("c1")
        child.c1_pid = c1 if isinstance(c1, int) else 0
        if child.cgroup is not None and not reply.get("cgroup"):
            print(
                f"grader: the fork server could not move the sandbox into its cgroup: {reply.get('cgroup_error')}",
                file=sys.stderr,
            )
            self._drop_cgroup(child)

    def _handshake(self, child: Child) -> Child:
        try:
            return self._handshake_or_raise(child)
        except BaseException:
            self._drop_cgroup(child)
            raise

    def _handshake_or_raise(self, child: Child) -> Child:
        self._spawn_reply(child)
        deadline = time.monotonic() + 30
        try:
            for _ in range(2):
                child.sock.settimeout(max(deadline - time.monotonic(), 0.001))
                msg, _ = recv_message(child.sock)
                if msg.get("spawned"):
                    child.pid = int(msg["pid"])
                elif msg.get("ready"):
                    child.ready = msg
                    if self.isolate and (not msg.get("isolated") or msg.get("cap_eff") != 0):
                        child.close()
                        raise SandboxUnavailable(f"the sandboxed process is not isolated as required: {msg}")
                    return child
                else:
                    child.close()
                    raise setup_failure(str(msg.get("stage")), str(msg.get("error")))
        except (socket.timeout, ProtocolError, OSError) as exc:
            child.close()
            raise SandboxUnavailable(f"the sandboxed process did not start: {exc}") from None
        child.close()
        raise SandboxUnavailable("the sandboxed process did not report ready")

    def _new_cgroup(self) -> JobCgroup | None:
        """A fresh cgroup for the next sandbox, where the host allows one (detected once)."""
        if not self._want_cgroups:
            return None
        if not self._cgroups_checked:
            self._cgroups_checked = True
            self._cgroups = CgroupParent.detect()
        if self._cgroups is None:
            return None
        try:
            return self._cgroups.create()
        except OSError as exc:
            print(f"grader: could not create a cgroup for the sandbox: {exc}", file=sys.stderr)
            return None

    def _drop_cgroup(self, child: Child) -> None:
        if child.cgroup is not None and self._cgroups is not None:
            self._cgroups.discard(child.cgroup)  # now, or at a later call once its processes are gone
        child.cgroup = None

    def acquire(self) -> Child:
        """A ready, isolated child for one submission (the oldest forked ahead, else a new one); the
        children ahead are topped up as soon as this one is released."""
        with self._lock:
            child = self._ready.popleft() if self._ready else self._spawn()
            child = self._handshake(child)
        if self._gpu_watch is not None:
            self._gpu_watch.watch(child)
        return child

    def release(self, child: Child) -> None:
        child.close()
        with self._lock:
            self._drop_cgroup(child)
        # Fork the next child(ren) in the background: the grade's result goes back meanwhile, and
        # the next acquire() waits on the lock only if it comes before the fork is sent.
        if self._refiller is None:
            self._refiller = threading.Thread(target=self._refill_loop, daemon=True, name="sandbox-prefork")
            self._refiller.start()
        self._refill_wanted.set()

    def _refill_loop(self) -> None:
        while True:
            self._refill_wanted.wait()
            self._refill_wanted.clear()
            if self._closing:
                return
            self._refill()

    def _refill(self) -> None:
        with self._lock:
            # Never (re)start the fork server from this short-lived thread: its parent-death signal
            # fires when the THREAD that started it exits. Recycling is left to acquire().
            while (
                len(self._ready) < self.prefork
                and self._zygote is not None
                and self._zygote.poll() is None
                and self._spawned < self.recycle_after
            ):
                try:
                    self._ready.append(self._spawn())  # pre-fork: it sets itself up while we are idle
                except SandboxUnavailable:
                    break

    def close(self) -> None:
        if self._refiller is not None:
            self._closing = True
            self._refill_wanted.set()
            self._refiller.join()
            self._refiller = None
            self._closing = False
        with self._lock:
            self._discard_ready()
            self._stop_zygote()
            if self._cpu_slot is not None:
                self._cpu_slot.release()
                self._cpu_slot = None
            if self._cgroups is not None:
                self._cgroups.close()
                self._cgroups, self._cgroups_checked = None, False

    def __enter__(self) -> "SandboxPool":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The trusted side of the sandbox: a warm executor pool and the session that drives one child.

The pool starts one zygote (torch already imported) and always keeps the NEXT sandboxed child
forked and ready, so a grade pays neither the torch import nor the sandbox setup. Each child runs
exactly one submission and is killed afterwards (with its whole pid namespace). The zygote is
recycled after `recycle_after` children.
"""

from __future__ import annotations

import collections
import fcntl
import json
import os
import select
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.protocol import ChannelClosed, MessageReader, ProtocolError, recv_message, send_message, validate_reply
from grader.sandbox.cgroup import CgroupParent, JobCgroup
from grader.sandbox.cpuslot import CpuSlot, claim_cpu
from grader.sandbox.gpu import GpuMemoryWatch

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STDOUT_CAP = 16 * 1024
INSECURE_ENV = "GRADER_INSECURE_NO_ISOLATION"
# The cgroup's memory limit is the exercise's memory_mb plus this: the runner's own allocations and
# copy-on-write copies of the warm interpreter's pages, and the private tmpfs, are charged to it too.
CGROUP_SLACK_MB = 384
CGROUP_PIDS = 64  # processes and threads of one sandbox together


class SandboxUnavailable(Exception):
    """The sandbox could not be set up (infrastructure problem; worth a retry elsewhere)."""


class SandboxDied(Exception):
    """The child stopped answering: it crashed, hit a limit, or was killed for its wall time."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason  # "timeout" | "crashed" | "memory"
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class StudentError(Exception):
    """The student's code raised (or replied something unusable) while obeying a command."""

    def __init__(self, info: dict[str, Any]):
        self.type = str(info.get("type", "Error"))
        self.message = str(info.get("message", ""))
        self.trace = str(info.get("trace", ""))
        self.memory = bool(info.get("memory", False))
        self.info = info
        super().__init__(f"{self.type}: {self.message}")

    def describe(self) -> str:
        return self.trace or f"{self.type}: {self.message}"


def insecure_requested() -> bool:
    return os.environ.get(INSECURE_ENV, "") in ("1", "true", "yes")


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


@dataclass
class _Output:
    """Drains the child's stdout/stderr in a thread; keeps the first STDOUT_CAP bytes."""

    fd: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, daemon=True, name="sandbox-stdout").start()

    def __post_init__(self) -> None:
        # Held while a chunk is read AND appended: "nothing pending in the pipe" under this lock
        # then means everything written so far is in self.data.
        self._lock = threading.Lock()

    def _run(self) -> None:
        try:
            while True:
                select.select([self.fd], [], [])
                with self._lock:
                    chunk = os.read(self.fd, 65536)
                    room = STDOUT_CAP - len(self.data)
                    if room > 0:
                        self.data += chunk[:room]
                    if len(chunk) > max(room, 0):
                        self.truncated = True
                if not chunk:
                    break
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                os.close(self.fd)
                self.done.set()

    def _pending(self) -> int:
        buf = bytearray(4)
        fcntl.ioctl(self.fd, termios.FIONREAD, buf)
        return int.from_bytes(buf, sys.byteorder)

    def text(self, wait_s: float = 0.2) -> str:
        """What the child printed; waits briefly for the pipe to close (the sandbox is gone by then)."""
        self.done.wait(wait_s)
        return self._decoded()

    def text_so_far(self, wait_s: float = 0.05) -> str:
        """What a still-running child has printed up to now: drained until the pipe is empty, without
        waiting for the sandbox to be torn down (which a living child's pipe needs to reach EOF)."""
        end = time.monotonic() + wait_s
        while True:
            with self._lock:
                if self.done.is_set() or self._pending() == 0:
                    break
            if time.monotonic() > end:
                break
            time.sleep(0.0005)
        return self._decoded()

    def _decoded(self) -> str:
        with self._lock:
            s = bytes(self.data).decode("utf-8", errors="replace")
            return s + ("\n[output truncated]" if self.truncated else "")


@dataclass
class Child:
    """One forked, sandboxed process. Use it for one submission, then release it."""

    sock: socket.socket
    output: _Output
    status_fd: int
    pid: int = 0
    ready: dict[str, Any] = field(default_factory=dict)
    killed_for_timeout: bool = False
    dead: bool = False
    seq: int = 0
    spawn_pending: bool = True  # the zygote's reply to our spawn request is not read yet
    cgroup: JobCgroup | None = None  # the whole sandbox's memory/pids limit, where the host allows one
    memory_limit_mb: int = 0
    reader: MessageReader | None = None
    memory_over: str = ""  # set by the memory watch (grader/sandbox/gpu.py) when it killed the sandbox
    host_memory_cap_mb: int = 0  # for that watch: host memory where no cgroup or RLIMIT_AS bounds it
    _status: dict[str, Any] | None = None

    def usage(self) -> dict[str, float]:
        """CPU seconds and peak RSS of the sandbox's pid 1, read by us from /proc (the student cannot forge it)."""
        if not self.pid or self.dead:
            st = self.status(wait_s=0.5)
            return {"cpu_s": float(st.get("cpu_s") or 0.0), "peak_rss_mb": float(st.get("peak_rss_mb") or 0.0)}
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks = os.sysconf("SC_CLK_TCK")
            cpu = sum(int(x) for x in fields[11:15]) / ticks  # utime stime cutime cstime
            rss = 0.0
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        rss = int(line.split()[1]) / 1024.0
            return {"cpu_s": cpu, "peak_rss_mb": rss}
        except (OSError, ValueError, IndexError):
            return {"cpu_s": 0.0, "peak_rss_mb": 0.0}

    @property
    def isolated(self) -> bool:
        return bool(self.ready.get("isolated"))

    def call(self, op: str, header: dict[str, Any] | None = None, blobs: list[bytes] | None = None, *,
             deadline: float) -> tuple[dict[str, Any], list[bytes]]:
        """Send one command and wait for its reply until the job's deadline."""
        if self.dead:
            raise SandboxDied("crashed", "the sandbox already stopped")
        if op == "load" and isinstance((header or {}).get("limits"), dict):
            self._limit_cgroup(header["limits"])  # type: ignore[index]
        self.seq += 1
        msg = dict(header or {})
        msg["op"] = op
        msg["seq"] = self.seq
        try:
            self.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            send_message(self.sock, msg, blobs)
            while True:
                # The deadline bounds the whole message, not each recv (a byte-by-byte drip times out).
                if self.reader is None:
                    self.reader = MessageReader(self.sock)  # after the handshake's plain reads
                reply, out_blobs = self.reader.recv(deadline=deadline)
                if reply.get("seq") == self.seq:
                    break
                # Anything else on the channel was written by student code: not a reply. Skip it.
            # The reply may have been written by student code too: check every field the trusted
            # side will read before anyone reads it.
            validate_reply(op, reply, out_blobs)
        except socket.timeout:
            self.kill(timeout=True)
            raise SandboxDied("timeout", "wall-clock limit reached") from None
        except (ChannelClosed, ConnectionError, BrokenPipeError):
            self.kill()
            raise self._death() from None
        except ProtocolError as exc:
            self.kill()
            raise SandboxDied("crashed", f"the sandbox sent malformed data in reply to '{op}' ({exc}); "
                                         f"was the grader's channel tampered with?") from None
        if not reply.get("ok", False):
            raise StudentError(reply.get("error") or {})
        return reply, out_blobs

    def _limit_cgroup(self, limits: dict[str, Any]) -> None:
        """Limit the sandbox as a whole (all its processes) before any student code runs."""
        mem = int(limits.get("memory_mb") or 0)
        if mem > 0 and not limits.get("address_space", True):
            # A GPU job: CUDA reserves huge address space (no RLIMIT_AS) and maps large libraries,
            # so the memory watch (grader/sandbox/gpu.py) bounds its anonymous memory from outside.
            self.host_memory_cap_mb = mem + CGROUP_SLACK_MB
        if self.cgroup is None or mem <= 0 or not limits.get("address_space", True):
            return
        self.memory_limit_mb = mem + CGROUP_SLACK_MB
        try:
            self.cgroup.limit(self.memory_limit_mb << 20, CGROUP_PIDS)
        except OSError as exc:
            print(f"grader: could not limit the sandbox's cgroup: {exc}", file=sys.stderr)

    def kill(self, *, timeout: bool = False) -> None:
        if timeout:
            self.killed_for_timeout = True
        if self.pid and not self.dead:
            try:
                os.kill(self.pid, signal.SIGKILL)  # pid 1 of its namespace: the whole namespace goes
            except ProcessLookupError:
                pass
            if not self.ready.get("isolated"):
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        self.dead = True

    def kill_for_memory(self, detail: str) -> None:
        self.memory_over = detail
        self.kill()

    def status(self, wait_s: float = 2.0) -> dict[str, Any]:
        """How C2 ended and its rusage, as reported by C1 (which the student never controls)."""
        if self._status is None:
            if self.status_fd < 0:
                return {}
            data = b""
            end = time.monotonic() + wait_s
            while time.monotonic() < end:
                r, _, _ = select.select([self.status_fd], [], [], max(end - time.monotonic(), 0))
                if not r:
                    break
                chunk = os.read(self.status_fd, 4096)
                if not chunk:
                    break
                data += chunk
            try:
                self._status = json.loads(data) if data else {}
            except json.JSONDecodeError:
                self._status = {}
        return self._status

    def _death(self) -> SandboxDied:
        st = self.status()
        sig = st.get("signal")
        if self.killed_for_timeout:
            return SandboxDied("timeout", "wall-clock limit reached")
        if self.memory_over:
            return SandboxDied("memory", self.memory_over)
        if self.cgroup is not None and self.cgroup.oom_killed():
            return SandboxDied("memory", f"all of its processes together reached the sandbox's memory limit of "
                                         f"{self.memory_limit_mb} MB, and the kernel stopped them")
        if sig == signal.SIGXCPU:
            return SandboxDied("timeout", "CPU time limit reached")
        if sig is not None:
            return SandboxDied("crashed", f"the process was killed by {_signal_name(sig)}")
        code = st.get("exit")
        return SandboxDied("crashed", f"the process exited (status {code})" if code is not None else "the process ended")

    def close(self) -> None:
        """Kill the sandbox and drop our ends. C1's report is only waited for when we asked for it."""
        self.kill()
        try:
            self.sock.close()
        except OSError:
            pass
        if self.status_fd >= 0:
            os.close(self.status_fd)
            self.status_fd = -1


class SandboxPool:
    """One zygote and one pre-forked child at a time (a worker grades one submission at a time)."""

    def __init__(self, *, device: str = "cpu", isolate: bool | None = None, recycle_after: int = 500,
                 start_timeout_s: float = 180.0, gpu_memory_fraction: float = 0.25, cgroups: bool = True,
                 simulate_no_userns: bool = False, gpu_watch: GpuMemoryWatch | None = None,
                 prefork: int | None = None):
        self.device = device
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
        # Children forked ahead, oldest first. One on a CPU worker (the pre-fork competes with the
        # grade for the same cores); more on a GPU worker, where each child's CUDA initialisation
        # (~0.5 s) runs on its own core and would otherwise sit on every back-to-back grade's path.
        if prefork is None:
            prefork = int(os.environ.get("GRADER_PREFORK", "3" if device.startswith("cuda") else "2"))
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
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
               "GRADER_PROJECT_ROOT": str(PROJECT_ROOT)}
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

    def _start_zygote(self) -> None:
        if self._cpu_slot is None:
            self._cpu_slot = claim_cpu()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # The child sets itself up on any core (beside the previous grade) and moves to ours just
        # before it reports ready.
        options = {"device": self.device, "isolate": self.isolate, "gpu_memory_fraction": self.gpu_memory_fraction,
                   "cpu": self.cpu,
                   "simulate_no_userns": self.simulate_no_userns}
        bootstrap = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
                     "from grader.sandbox.zygote import main; main()")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-c", bootstrap, str(PROJECT_ROOT), str(child.fileno()), json.dumps(options)],
                env=self._env(), pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, cwd="/",
                stdout=subprocess.DEVNULL, stderr=None)
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
        output = _Output(out_r)
        output.start()
        # The zygote's reply is read when the child is needed: forking runs while we do other work.
        return Child(sock=ours, output=output, status_fd=status_r, cgroup=cgroup)

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
            raise _setup_failure("fork", str(reply.get("error")))
        if child.cgroup is not None and not reply.get("cgroup"):
            print(f"grader: the fork server could not move the sandbox into its cgroup: {reply.get('cgroup_error')}",
                  file=sys.stderr)
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
                    raise _setup_failure(str(msg.get("stage")), str(msg.get("error")))
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
        """A ready, isolated child for one submission; the next one is forked as soon as this is released."""
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
            while (len(self._ready) < self.prefork and self._zygote is not None and self._zygote.poll() is None
                   and self._spawned < self.recycle_after):
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


# What each setup stage needs from the host, for the message of a worker that cannot start.
_NEEDS = {
    "namespaces": "user namespaces (and mount, pid, network, IPC and UTS namespaces inside them)",
    "fork": "user namespaces with a uid/gid map for the sandbox (writing /proc/<pid>/uid_map)",
    "filesystem": "private mounts inside a user namespace (tmpfs, read-only bind mounts, a fresh /proc, pivot_root)",
    "hostname": "a private UTS namespace (sethostname)",
    "limits": "resource limits (setrlimit)",
    "descriptors": "file descriptor set-up",
    "privileges": "dropping to an unprivileged uid without capabilities (setresuid, capset, no_new_privs)",
    "seccomp": "seccomp filters (prctl(PR_SET_SECCOMP))",
    "cuda": "CUDA initialisation in the sandbox",
}


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _userns_hint() -> str:
    """Why this host may refuse user namespaces, from the usual switches."""
    hints = []
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        hints.append("sysctl user.max_user_namespaces is 0")
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0" and os.geteuid() != 0:
        hints.append("sysctl kernel.unprivileged_userns_clone is 0")
    if _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1" and os.geteuid() != 0:
        hints.append("AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)")
    if os.path.exists("/.dockerenv") or _read("/proc/1/cgroup").find("docker") >= 0:
        hints.append("this looks like a container: its seccomp profile may forbid unshare() and mount() "
                     "(run the worker with a profile that allows them)")
    return (" Possible causes: " + "; ".join(hints) + ".") if hints else ""


def _setup_failure(stage: str, error: str) -> SandboxUnavailable:
    needs = _NEEDS.get(stage, f"the sandbox's '{stage}' step")
    hint = _userns_hint() if stage in ("namespaces", "fork") else ""
    return SandboxUnavailable(
        f"the sandbox cannot be set up on this host: it needs {needs}, which failed ({error}).{hint} "
        f"The worker will not run student code without isolation; for development only, set {INSECURE_ENV}=1 to "
        f"grade WITHOUT a sandbox (every result then says so).")

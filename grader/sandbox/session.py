"""The session with one sandboxed child: the framed command channel, why a child died, what it
used (read from /proc by us, never reported by it), and the limits its cgroup and the per-command
CPU watch put on the sandbox as a whole."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from grader.protocol import ChannelClosed, MessageReader, ProtocolError, send_message, validate_reply
from grader.results import Outcome
from grader.sandbox.cgroup import JobCgroup
from grader.sandbox.errors import SandboxDied, StudentError
from grader.sandbox.output import OutputDrain

# The cgroup's memory limit is the exercise's memory_mb plus this: the runner's own allocations and
# copy-on-write copies of the warm interpreter's pages, and the private tmpfs, are charged to it too.
CGROUP_SLACK_MB = 384
# A GPU job's host memory also holds the CUDA context and the CUDA libraries' pages it faults in
# (cuDNN and cuBLAS alone map over a GiB); it has no RLIMIT_AS, so this cgroup is its only bound.
CGROUP_GPU_SLACK_MB = 4096
CGROUP_PIDS = 64  # processes and threads of one sandbox together
CPU_POLL_S = 0.05  # how often a running command's CPU time is read: the budget holds to within this
_TICKS = os.sysconf("SC_CLK_TCK")


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def process_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads) and of its children it has reaped."""
    try:
        return sum(int(x) for x in _stat_fields(pid)[11:15]) / _TICKS
    except (OSError, ValueError, IndexError):
        return 0.0  # gone meanwhile


def process_tree(root: int) -> list[int]:
    """root and every process below it, from /proc/<pid>/task/<tid>/children (host pids)."""
    out: list[int] = []
    todo = [root]
    seen: set[int] = set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # exited
        out.append(pid)
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo.extend(int(x) for x in f.read().split())
            except (OSError, ValueError):
                pass
    return out


@dataclass
class Child:
    """One forked, sandboxed process. Use it for one submission, then release it."""

    sock: socket.socket
    output: OutputDrain
    status_fd: int
    pid: int = 0  # host pid of the sandbox's pid 1 (C2)
    c1_pid: int = 0  # host pid of its parent outside the namespaces (C1): in the cgroup, not in the sandbox
    ready: dict[str, Any] = field(default_factory=dict)
    killed_for_timeout: bool = False
    dead: bool = False
    seq: int = 0
    spawn_pending: bool = True  # the zygote's reply to our spawn request is not read yet
    cgroup: JobCgroup | None = None  # the whole sandbox's memory/pids limit, where the host allows one
    memory_limit_mb: int = 0
    reader: MessageReader | None = None
    memory_over: str = ""  # set by the memory watch (grader/sandbox/gpu.py) when it killed the sandbox
    host_memory_cap_mb: int = 0  # for that watch: host memory where no RLIMIT_AS bounds it (GPU jobs)
    # CPU seconds one command may use, all the sandbox's processes together (0: no per-command budget;
    # the whole job's RLIMIT_CPU still applies). Enforced from here, by a watch thread.
    step_cpu_s: float = 0.0
    killed_for_cpu: bool = False
    max_step_s: float = 0.0  # the slowest command so far, as the runner timed it (for measuring references)
    gpu_host_slack_mb: int = CGROUP_GPU_SLACK_MB
    _busy_seq: int = 0  # the command in flight (0: none)
    _cpu_watch: threading.Thread | None = None
    _status: dict[str, Any] | None = None

    # ---- what the sandbox is and uses, read by us ---------------------------------------------
    def sandbox_pids(self) -> list[int]:
        """Host pids of every process in the sandbox now: its cgroup's members where it has one (which
        nothing inside can leave), else the process tree under its pid 1 (orphans are re-parented to it)."""
        if not self.pid or self.dead:
            return []
        if self.cgroup is not None:
            pids = self.cgroup.pids()
            if pids:
                return [p for p in pids if p != self.c1_pid]
        return process_tree(self.pid)

    def cpu_s(self) -> float:
        """CPU seconds used so far by every process in the sandbox (and the children they reaped)."""
        return sum(process_cpu_s(p) for p in self.sandbox_pids())

    def usage(self) -> dict[str, float]:
        """CPU seconds and peak RSS of the sandbox's pid 1, read by us from /proc (the student cannot forge it)."""
        if not self.pid or self.dead:
            st = self.status(wait_s=0.5)
            return {"cpu_s": float(st.get("cpu_s") or 0.0), "peak_rss_mb": float(st.get("peak_rss_mb") or 0.0)}
        try:
            cpu = process_cpu_s(self.pid)
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

    # ---- the command channel ------------------------------------------------------------------
    def call(
        self, op: str, header: dict[str, Any] | None = None, blobs: list[bytes] | None = None, *, deadline: float
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Send one command and wait for its reply until the job's deadline."""
        if self.dead:
            raise SandboxDied(Outcome.CRASHED, "the sandbox already stopped")
        limits = (header or {}).get("limits")
        if op == "load" and isinstance(limits, dict):
            self._limit_cgroup(limits)
        self.seq += 1
        msg = dict(header or {})
        msg["op"] = op
        msg["seq"] = self.seq
        if self.step_cpu_s > 0 and self._cpu_watch is None:
            self._cpu_watch = threading.Thread(target=self._watch_cpu, daemon=True, name="sandbox-cpu")
            self._cpu_watch.start()
        self._busy_seq = self.seq
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
            raise SandboxDied(Outcome.TIMEOUT, "wall-clock limit reached") from None
        except (ChannelClosed, ConnectionError, BrokenPipeError):
            self.kill()
            raise self._death() from None
        except ProtocolError as exc:
            self.kill()
            raise SandboxDied(
                Outcome.CRASHED,
                f"the sandbox sent malformed data in reply to '{op}' ({exc}); was the grader's channel tampered with?",
            ) from None
        finally:
            self._busy_seq = 0
        elapsed = reply.get("elapsed_s")
        if isinstance(elapsed, (int, float)) and elapsed > self.max_step_s:
            self.max_step_s = float(elapsed)
        if not reply.get("ok", False):
            raise StudentError(reply.get("error") or {})
        return reply, out_blobs

    def _watch_cpu(self) -> None:
        """Kill the sandbox when one command has used more than step_cpu_s of CPU (all its processes).

        Polls only while the child lives; a command shorter than one poll is never even measured."""
        seq, base = 0, 0.0
        while not self.dead:
            time.sleep(CPU_POLL_S)
            busy = self._busy_seq
            if not busy:
                seq = 0
                continue
            used = self.cpu_s()
            if busy != seq:
                seq, base = busy, used  # first seen running: the budget counts from here
            elif used - base > self.step_cpu_s and self._busy_seq == seq:
                self.killed_for_cpu = True
                self.kill()
                return

    def _limit_cgroup(self, limits: dict[str, Any]) -> None:
        """Limit the sandbox as a whole (all its processes) before any student code runs."""
        mem = int(limits.get("memory_mb") or 0)
        gpu = not limits.get("address_space", True)
        if mem > 0 and gpu:
            # A GPU job: CUDA reserves huge address space (no RLIMIT_AS), so the memory watch
            # (grader/sandbox/gpu.py) also bounds its pid 1's anonymous memory from outside.
            self.host_memory_cap_mb = mem + CGROUP_SLACK_MB
        if self.cgroup is None or mem <= 0:
            return
        self.memory_limit_mb = mem + CGROUP_SLACK_MB + (self.gpu_host_slack_mb if gpu else 0)
        try:
            self.cgroup.limit(self.memory_limit_mb << 20, CGROUP_PIDS)
        except OSError as exc:
            print(f"grader: could not limit the sandbox's cgroup: {exc}", file=sys.stderr)

    # ---- ending it ----------------------------------------------------------------------------
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
                loaded = json.loads(data) if data else {}
            except json.JSONDecodeError:
                loaded = {}
            self._status = loaded if isinstance(loaded, dict) else {}
        return self._status

    def _death(self) -> SandboxDied:
        """Why the child stopped, from what we know (our own kills, the cgroup, C1's report)."""
        st = self.status()
        sig = st.get("signal")
        if self.killed_for_timeout:
            return SandboxDied(Outcome.TIMEOUT, "wall-clock limit reached")
        if self.killed_for_cpu:
            return SandboxDied(
                Outcome.TIMEOUT, f"one step used more than {self.step_cpu_s:g} s of CPU time, the limit per step"
            )
        if self.memory_over:
            return SandboxDied(Outcome.MEMORY, self.memory_over)
        if self.cgroup is not None and self.cgroup.oom_killed():
            return SandboxDied(
                Outcome.MEMORY,
                f"all of its processes together reached the sandbox's memory limit of "
                f"{self.memory_limit_mb} MB, and the kernel stopped them",
            )
        if sig == signal.SIGXCPU:
            return SandboxDied(Outcome.TIMEOUT, "CPU time limit reached")
        if isinstance(sig, int):
            return SandboxDied(Outcome.CRASHED, f"the process was killed by {_signal_name(sig)}")
        code = st.get("exit")
        return SandboxDied(
            Outcome.CRASHED, f"the process exited (status {code})" if code is not None else "the process ended"
        )

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

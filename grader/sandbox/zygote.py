"""The fork server: a process that has imported torch once and forks one sandboxed child per job.

It is started by the pool with an almost empty environment, never sees the exercise, and never runs
student code itself. For each spawn request it forks C1, which enters fresh user, mount, pid, net,
ipc and uts namespaces; C1 forks C2, the pid 1 of the new pid namespace, which builds a minimal
read-only root, drops to an unprivileged uid with no capabilities, installs seccomp, and serves
commands for exactly one submission. Killing C2 kills the whole namespace.

    pool --ctrl (SOCK_SEQPACKET)--> zygote --fork--> C1 --fork--> C2 (pid 1, sandboxed) <--job socket--> pool
"""

from __future__ import annotations

import gc
import json
import os
import random
import resource
import signal
import socket
import sys
import time
import traceback
from typing import Any

from grader.sandbox.binds import BindPlan, ProtectedBindError, plan
from grader.sandbox.gpu import gpu_device_nodes
from grader.sandbox.priority import autogroup_nice, in_root_cpu_cgroup, set_autogroup_nice

SANDBOX_UID = 1000  # the uid student code sees inside its user namespace
# Rootful mode: each job runs as its own unprivileged host uid, HOST_UID_BASE + the host pid of its C1
# (unique among live sandboxes, whichever worker made them); pids stay below PID_MAX_LIMIT = the span.
HOST_UID_BASE = 200000
HOST_UID_SPAN = 1 << 22
ROOT_SIZE = "64m"  # tmpfs for the whole sandbox root, scratch included
ROOT_INODES = "2048"


def _warm_torch(device: str) -> None:
    """Import and exercise what grading needs, single-threaded, so children start warm."""
    import torch
    import torch.nn.functional  # noqa: F401

    torch.set_num_threads(1)
    # Native CPU convolutions, not oneDNN's, inherited by every child: the same setting as the
    # trusted side's (grader.engine.use_small_tensor_kernels says why; not imported here, so the
    # sandbox never holds the grading engine's modules).
    # (torch types the attribute as its ContextProp descriptor, whose setter takes a bool.)
    torch.backends.mkldnn.enabled = False  # type: ignore[assignment]  # a ContextProp descriptor whose setter takes a bool
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    for name in (
        "math",
        "typing",
        "dataclasses",
        "functools",
        "collections",
        "itertools",
        "numbers",
        "abc",
        "copy",
        "numpy",
        "torch.nn.init",
        "torch.nn.modules",
        "torch.autograd",
    ):
        try:
            __import__(name)
        except ImportError:
            pass
    if device == "cpu":
        # Touch the kernels every residual-block check uses (conv, batch norm, relu, autograd).
        m = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3, padding=1, bias=False),
            torch.nn.BatchNorm2d(4),
            torch.nn.ReLU(),
            torch.nn.Conv2d(4, 4, 1, stride=2, bias=False),
        )
        for k in (1, 3, 5, 7):
            torch.nn.functional.conv2d(torch.randn(1, 2, 9, 9), torch.randn(2, 2, k, k), padding=k // 2)
        x = torch.randn(2, 3, 9, 7, requires_grad=True)
        torch.autograd.backward(m(x).sum())
        m.eval()
        m(x)
        # backward() with an explicit gradient lazily imports sympy and mpmath (~0.8 s, ~500 modules)
        # on first use: pay that once here, before any fork.
        y = torch.randn(2, 3, requires_grad=True) * 2
        torch.autograd.backward(y, torch.ones(2, 3))
    else:
        # NOT backward() here: the autograd engine's first run asks every device type for its count,
        # which initialises the CUDA driver in the fork server, and a forked child can then never
        # initialise CUDA again ("CUDA error: initialization error"). Import what it would import.
        import torch.fx.experimental.symbolic_shapes  # noqa: F401


_PREWARM_SOURCE = """
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, channels, kernel_size=3):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)
"""


def _prewarm_child(device: str) -> None:
    """Replay a small grade through the runner's own command handlers in the fresh child, before it
    reports ready: the copy-on-write faults, allocator growth and lazy initialisations of every
    code path a grade takes happen now, while the worker is busy with the previous grade or idle."""
    import json
    import linecache

    import torch

    from grader.inside import runner
    from grader.protocol import tensor_to_wire

    st = runner.new_state(device)
    runner.handle(st, {"op": "load", "source": _PREWARM_SOURCE, "names": ["Block"]}, [])
    reply, _ = runner.handle(
        st, {"op": "construct", "name": "Block", "args": [4, 3], "kwargs": {}, "describe": True}, []
    )
    json.dumps(reply)
    blobs: list[bytes] = []
    state = {
        "params": [tensor_to_wire(torch.randn(p["shape"]), blobs) for p in reply["params"]],
        "buffers": [
            tensor_to_wire(torch.zeros(b["shape"], dtype=getattr(torch, b["dtype"])), blobs) for b in reply["buffers"]
        ],
    }
    x = tensor_to_wire(torch.randn(3, 4, 6, 5), blobs)
    g = tensor_to_wire(torch.ones(3, 4, 6, 5), blobs)
    # As the checks send them (grader.blocks): the state rides on a "run" of independent steps, each a
    # forward in one mode, with a backward and the buffers where asked.
    steps = [
        {"train": True, "input": x, "buffers": True, "grad_output": g},
        {"train": False, "input": x, "buffers": False},
    ]
    out, ob = runner.handle(
        st, {"op": "run", "handle": reply["handle"], "load_state": state, "reset": True, "steps": steps}, blobs
    )
    json.dumps(out)
    # Nothing of the replay may be visible to the real submission.
    linecache.cache.pop(runner.SUBMISSION_FILENAME, None)
    sys.modules.pop("submission", None)


def _bind_plan(protected: list[str]) -> BindPlan:
    """What the sandbox may read: the OS libraries, the Python runtime, and site-packages; never the
    project, the exercises, VAR_DIR or the secret key (masked where a source contains them)."""
    paths = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", sys.base_prefix]
    if sys.prefix == sys.base_prefix:
        paths.append(sys.prefix)  # a venv root may sit inside the project: only its site-packages are bound
    paths += [p for p in sys.path if p and os.path.isdir(p) and ("site-packages" in p or "dist-packages" in p)]
    return plan(paths, protected)


def _build_root(bind_plan: BindPlan, device: str) -> None:
    """In the child's private mount namespace: a tmpfs root with read-only binds, then pivot_root.

    Every bind source is opened (O_PATH) BEFORE the staging tmpfs goes over /tmp and binds come from
    /proc/self/fd/N: a checkout or venv that itself lives under /tmp is then still reachable.
    """
    from grader.sandbox import linux as L

    devices = ["null", "zero", "urandom", "random"]
    if device.startswith("cuda"):  # the pinned GPU's node and CUDA's control nodes, not the other GPUs
        devices += gpu_device_nodes(os.listdir("/dev"), int(_OPTIONS["gpu_minor"]))
    sources: list[tuple[str, int | str]] = []  # (path inside the sandbox, fd or symlink target)
    for src in bind_plan.sources:
        if os.path.islink(src):
            sources.append((src, os.readlink(src)))
        elif os.path.isdir(src):
            sources.append((src, os.open(src, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)))
    files = ["/etc/ld.so.cache"] + [f"/dev/{n}" for n in devices]
    if device.startswith("cuda"):
        files.append("/sys")
    opened_files = [(f, os.open(f, os.O_PATH | os.O_CLOEXEC)) for f in files if os.path.exists(f)]

    L.mount(None, "/", None, L.MS_REC | L.MS_PRIVATE)
    L.mount("tmpfs", "/tmp", "tmpfs", L.MS_NOSUID | L.MS_NODEV, "size=1m,mode=0700")
    root = "/tmp/r"
    os.mkdir(root)
    empty = "/tmp/empty"  # what a masked file shows (outside the new root: unreachable after pivot_root)
    with open(empty, "w"):
        pass
    L.mount("tmpfs", root, "tmpfs", L.MS_NOSUID | L.MS_NODEV, f"size={ROOT_SIZE},nr_inodes={ROOT_INODES},mode=0755")
    ro = L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY | L.MS_NOSUID | L.MS_NODEV
    masked = L.MS_RDONLY | L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC
    for src, handle in sources:
        dst = root + src
        if isinstance(handle, str):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            if not os.path.lexists(dst):
                os.symlink(handle, dst)
            continue
        if os.path.isdir(dst) and os.listdir(dst):
            os.close(handle)
            continue  # already inside an earlier bind
        os.makedirs(dst, exist_ok=True)
        L.mount(f"/proc/self/fd/{handle}", dst, None, L.MS_BIND | L.MS_REC)
        L.make_readonly_recursive(dst)  # submounts included
        os.close(handle)
    for path in bind_plan.masks:  # protected paths a source contains: an empty read-only mount over each
        dst = root + path
        if os.path.isdir(dst):
            L.mount("tmpfs", dst, "tmpfs", masked, "size=4k,nr_inodes=2,mode=0555")
        else:
            L.mount(empty, dst, None, L.MS_BIND)
            L.mount(None, dst, None, ro)
    for d in ("tmp", "proc", "dev", "etc", ".old"):
        os.makedirs(f"{root}/{d}", exist_ok=True)
    for path, handle in opened_files:
        dst = root + path
        if os.path.isdir(f"/proc/self/fd/{handle}"):
            os.makedirs(dst, exist_ok=True)
            L.mount(f"/proc/self/fd/{handle}", dst, None, L.MS_BIND | L.MS_REC)
        else:
            open(dst, "w").close()
            L.mount(f"/proc/self/fd/{handle}", dst, None, L.MS_BIND)
        if not path.startswith("/dev/"):
            L.mount(None, dst, None, ro)
        os.close(handle)
    # A fresh /proc for the new pid namespace: only the sandbox's own processes are visible.
    L.mount("proc", f"{root}/proc", "proc", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC)
    os.chown(f"{root}/tmp", SANDBOX_UID, SANDBOX_UID)
    os.chmod(f"{root}/tmp", 0o700)
    os.chdir(root)
    L.pivot_root(".", ".old")
    os.chroot(".")
    L.umount("/.old")
    os.rmdir("/.old")
    os.chdir("/tmp")


def _close_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _child_main(
    job: socket.socket, out_w: int, go_r: int, sid_w: int, isolate: bool, device: str, rootful: bool
) -> None:
    """C2: become the sandbox, then serve one submission. Never returns."""
    from grader.sandbox import linux as L
    from grader.sandbox import seccomp

    stage = "start"
    cpu_ms: dict[str, float] = {}  # CPU spent per set-up stage, reported with "ready" (observability)
    mark = time.process_time()

    def spent(name: str) -> None:
        nonlocal mark
        now = time.process_time()
        cpu_ms[name] = round((now - mark) * 1000, 2)
        mark = now

    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        # A session and process group of our own: C1 (outside the pid namespace) shares neither, so
        # kill(0, ...) / killpg from student code cannot even address it.
        os.setsid()
        # The new session is a new autogroup (nice 0, an equal share with the web's): C1 tells the
        # fork server, which weighs it as the grading nice (priority.py says why not from here).
        os.write(sid_w, b"s")
        os.close(sid_w)
        if isolate:
            stage = "filesystem"
            _build_root(_BIND_PLAN, device)
            spent("filesystem")
            stage = "hostname"
            L.sethostname("sandbox")
        stage = "limits"
        for res, val in (
            (resource.RLIMIT_NOFILE, 64),
            (resource.RLIMIT_FSIZE, 16 << 20),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_MEMLOCK, 64 << 10),
            (resource.RLIMIT_MSGQUEUE, 0),
        ):
            resource.setrlimit(res, (val, val))
        if isolate and rootful:
            resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))
        stage = "descriptors"
        devnull = os.open("/dev/null", os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w, 2)
        _close_fds({0, 1, 2, job.fileno(), go_r})
        sys.stdout = open(1, "w", buffering=1, closefd=False)
        sys.stderr = open(2, "w", buffering=1, closefd=False)
        if isolate:
            stage = "privileges"
            L.drop_bounding_capabilities()
            if rootful:
                os.setgroups([])
                os.setresgid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)
                os.setresuid(SANDBOX_UID, SANDBOX_UID, SANDBOX_UID)  # 0 -> non-zero clears all capabilities
            L.clear_capabilities()
            L.set_no_new_privs()
            # After the uid change (which resets it): die with our parent, C1.
            L.set_parent_death_signal(signal.SIGKILL)
            stage = "seccomp"
            seccomp.install_filter(device)
        spent("limits_privileges_seccomp")
        import torch

        if device.startswith("cuda"):
            # Before the environment goes: CUDA reads CUDA_VISIBLE_DEVICES (the worker's pinned GPU) at init.
            stage = "cuda"
            torch.cuda.init()  # type: ignore[no-untyped-call]  # torch leaves init() unannotated
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
            # A regrade must give the same numbers: deterministic cuDNN convolution algorithms.
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
            frac = float(_OPTIONS.get("gpu_memory_fraction", 0.25))
            torch.cuda.set_per_process_memory_fraction(frac)
            spent("cuda")
        stage = "environment"
        L.clearenv()
        seed = int.from_bytes(os.urandom(8), "little")
        random.seed(seed)
        torch.manual_seed(seed)
        stage = "prewarm"
        spent("environment")
        _prewarm_child(device)
        spent("prewarm")
        if isinstance(_OPTIONS.get("cpu"), int):
            try:
                os.sched_setaffinity(0, {int(_OPTIONS["cpu"])})  # the worker's grading core (cpuslot.py)
            except OSError:
                pass
        stage = "sync"
        os.read(go_r, 1)  # C1 has announced our host pid; the channel is ours now
        os.close(go_r)
        from grader.protocol import send_message

        caps = L.effective_capabilities()
        send_message(
            job,
            {
                "ready": True,
                "isolated": isolate,
                "uid": os.getuid(),
                "pid": os.getpid(),
                "cap_eff": caps,
                "device": device,
                "setup_cpu_ms": cpu_ms,
            },
        )
    except BaseException as exc:  # noqa: BLE001
        try:
            from grader.protocol import send_message

            send_message(job, {"ready": False, "stage": stage, "error": f"{type(exc).__name__}: {exc}"})
        finally:
            os._exit(70)
    from grader.inside.runner import serve

    try:
        serve(job, device)
    finally:
        # A student's signal handler can raise (SystemExit, anything) inside serve()'s own I/O: never
        # let that unwind into the zygote's code above us.
        os._exit(0)


def _c1_main(
    job: socket.socket,
    out_w: int,
    status_w: int,
    unshared_w: int,
    mapped_r: int,
    isolate: bool,
    device: str,
    rootful: bool,
) -> None:
    """C1: enter the namespaces, fork C2 as their pid 1, announce C2's host pid, wait for it.

    When C2 is gone, C1 reports how it ended and what it used (its rusage) on the status pipe,
    which C2 never holds: the student cannot forge it.
    """
    from grader.protocol import send_message
    from grader.sandbox import linux as L

    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        L.set_parent_death_signal(signal.SIGKILL)
        os.setsid()
        if isolate:
            if _OPTIONS.get("simulate_no_userns"):  # tests: behave like a host without user namespaces
                raise L.SandboxSetupError(1, "unshare failed: Operation not permitted (simulated)")
            L.unshare(L.ALL_NAMESPACES)
            os.write(unshared_w, b"u")
            if os.read(mapped_r, 1) != b"m":
                os._exit(71)
        os.close(mapped_r)
        go_r, go_w = os.pipe()
        sid_r, sid_w = os.pipe()
        c2 = os.fork()
        if c2 == 0:
            os.close(go_w)
            os.close(status_w)
            os.close(unshared_w)
            os.close(sid_r)
            _child_main(job, out_w, go_r, sid_w, isolate, device, rootful)
            os._exit(0)
        os.close(go_r)
        os.close(out_w)
        os.close(sid_w)
        # Once the sandbox's pid 1 has its own session: its host pid, for the fork server.
        if os.read(sid_r, 1) == b"s":
            os.write(unshared_w, str(c2).encode())
        os.close(sid_r)
        os.close(unshared_w)
        send_message(job, {"spawned": True, "pid": c2})
        os.close(go_w)
        job.close()
        _, status = os.waitpid(c2, 0)
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        report = {
            "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "cpu_s": ru.ru_utime + ru.ru_stime,
            "peak_rss_mb": ru.ru_maxrss / 1024.0,
        }
        os.write(status_w, json.dumps(report).encode())
        os._exit(0)
    except BaseException as exc:  # noqa: BLE001
        try:
            send_message(job, {"ready": False, "stage": "namespaces", "error": f"{type(exc).__name__}: {exc}"})
        finally:
            os._exit(72)


def _write_id_maps(pid: int, rootful: bool, host_uid: int) -> None:
    # Unprivileged writers must deny setgroups; as root we keep it so the child can drop every
    # supplementary group (root's groups must not follow the student into the sandbox).
    with open(f"/proc/{pid}/setgroups", "w") as f:
        f.write("allow" if rootful else "deny")
    if rootful:
        # Inside root (for building the root) is host root without host capabilities; the student
        # then runs as SANDBOX_UID = a host uid of its own, owning nothing on the host.
        uid_map = f"0 0 1\n{SANDBOX_UID} {host_uid} 1\n"
        gid_map = f"0 0 1\n{SANDBOX_UID} {host_uid} 1\n"
    else:
        uid_map = f"{SANDBOX_UID} {os.geteuid()} 1\n"
        gid_map = f"{SANDBOX_UID} {os.getegid()} 1\n"
    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write(uid_map)
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write(gid_map)


def _spawn(
    job: socket.socket, out_w: int, status_w: int, isolate: bool, device: str, cgroup_procs: list[str]
) -> tuple[int, str]:
    """Fork C1; returns its pid and "" or why it could not be put in its cgroup."""
    rootful = os.geteuid() == 0
    unshared_r, unshared_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(unshared_r)
        os.close(mapped_w)
        _c1_main(job, out_w, status_w, unshared_w, mapped_r, isolate, device, rootful)
        os._exit(0)
    os.close(unshared_w)
    os.close(mapped_r)
    cgroup_error = ""
    try:
        # C1 joins the job's cgroup(s) before it forks the sandbox's pid 1 (it waits for "m" below).
        for path in cgroup_procs:
            try:
                with open(path, "w") as f:
                    f.write(str(pid))
            except OSError as exc:
                cgroup_error = f"{path}: {exc.strerror}"
        if isolate:
            if os.read(unshared_r, 1) == b"u":
                # C1's pid is unique on the host while the sandbox lives, so is this uid: jobs of
                # different workers never share a uid (nor its RLIMIT_NPROC count).
                _write_id_maps(pid, rootful, HOST_UID_BASE + pid)
                os.write(mapped_w, b"m")
        os.close(mapped_w)
        mapped_w = -1
        # C1 sends the sandbox's host pid once the sandbox has its own session (EOF if C1 failed).
        c2 = os.read(unshared_r, 16)
        if c2.isdigit() and _AUTOGROUPS:
            set_autogroup_nice(int(_OPTIONS.get("nice", 0)), int(c2))
    finally:
        os.close(unshared_r)
        if mapped_w >= 0:
            os.close(mapped_w)
    return pid, cgroup_error


_BIND_PLAN = BindPlan()
_OPTIONS: dict[str, Any] = {}
# Whether each sandbox's session needs its autogroup weighed (the fork server is in the root cpu
# cgroup and the grading nice is above 0): set at start.
_AUTOGROUPS = False


def main() -> None:
    ctrl = socket.socket(fileno=int(sys.argv[1]))
    options = json.loads(sys.argv[2])
    _OPTIONS.update(options)
    device = str(options.get("device", "cpu"))
    isolate = bool(options.get("isolate", True))
    from grader.sandbox import linux as L

    L.set_parent_death_signal(signal.SIGKILL)
    if os.getppid() == 1:
        os._exit(0)
    # Grading yields to the web: every sandbox inherits this (and cannot lower it: no CAP_SYS_NICE).
    nice = int(options.get("nice", 0))
    if nice > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    global _AUTOGROUPS
    _AUTOGROUPS = nice > 0 and in_root_cpu_cgroup() and autogroup_nice() is not None
    if nice > 0:
        # Batch: a sandbox waking up never preempts the web's running thread (inherited by every child,
        # which cannot change it back: sched_setscheduler is not on the sandbox's allow-list).
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        except (OSError, AttributeError):
            pass
    # Children are reaped automatically; C1 resets this for itself.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    started = time.perf_counter()
    _warm_torch(device)
    import grader.inside.runner  # noqa: F401  (imported before fork: children pay nothing)
    import grader.protocol  # noqa: F401

    try:
        bind_plan = _bind_plan([str(p) for p in options.get("protected", [])])
    except ProtectedBindError as exc:
        ctrl.send(json.dumps({"ready": False, "error": str(exc)}).encode())
        os._exit(0)
    _BIND_PLAN.sources, _BIND_PLAN.masks = bind_plan.sources, bind_plan.masks
    # Everything imported so far is immortal: the collector never walks (and so never dirties)
    # these pages in the children.
    gc.collect()
    gc.freeze()
    ctrl.send(
        json.dumps(
            {
                "ready": True,
                "pid": os.getpid(),
                "warm_s": time.perf_counter() - started,
                "binds": bind_plan.sources,
                "masks": bind_plan.masks,
            }
        ).encode()
    )
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(ctrl, 4096, 3)
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)
        req = json.loads(msg)
        if req.get("op") == "exit":
            os._exit(0)
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            ctrl.send(json.dumps({"ok": False, "error": "spawn needs three fds"}).encode())
            continue
        job = socket.socket(fileno=fds[0])
        out_w, status_w = fds[1], fds[2]
        try:
            procs = [p for p in req.get("cgroup_procs", []) if isinstance(p, str)]
            pid, cgroup_error = _spawn(job, out_w, status_w, isolate, device, procs)
            reply = {"ok": True, "c1": pid, "cgroup": bool(procs) and not cgroup_error, "cgroup_error": cgroup_error}
        except Exception as exc:  # noqa: BLE001
            reply = {"ok": False, "error": "".join(traceback.format_exception_only(type(exc), exc)).strip()}
        finally:
            job.close()
            os.close(out_w)
            os.close(status_w)
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        ctrl.send(json.dumps(reply).encode())


if __name__ == "__main__":
    main()

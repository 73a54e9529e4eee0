"""The GPU sandbox held as tightly as the CPU one (issue 12 item 3), binds that cannot show the project
(item 5), and grading that yields the CPU to the web (issue 13 item 3).

GPU jobs are told apart by the limits they get (no address-space limit: CUDA reserves terabytes of
it); with no GPU here, those limits are sent to CPU sandboxes, and the driver's per-process memory
count is stood in for by each process's own memory, read by the trusted side where NVML would be."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from grader.engine import Grader
from grader.exercise import Exercise, load_exercise
from grader.results import Outcome
from grader.sandbox.binds import ProtectedBindError, plan
from grader.sandbox.errors import SandboxUnavailable
from grader.sandbox.gpu import GpuMemoryWatch, anonymous_resident_bytes, gpu_device_nodes
from grader.sandbox.hostcheck import GPU_NO_CGROUP_ENV
from grader.sandbox.pool import SandboxPool
from grader.sandbox.priority import autogroup_nice, in_root_cpu_cgroup, nice_weight
from grader.sandbox.session import CGROUP_PIDS, CGROUP_SLACK_MB, Child

ROOT = Path(__file__).resolve().parents[2]
ATTACKS = Path(__file__).resolve().parent / "attacks"
HONEST = (ROOT / "exercises" / "identity-block" / "solution.py").read_bytes()
MB = 1 << 20


def identity(memory_mb: int | None = None) -> Exercise:
    ex = load_exercise(ROOT / "exercises" / "identity-block")
    if memory_mb is None:
        return ex
    return dataclasses.replace(ex, limits=dataclasses.replace(ex.limits, memory_mb=memory_mb))


class GpuLimitsPool(SandboxPool):
    """Sends the limits a GPU job gets (no RLIMIT_AS) to CPU sandboxes."""

    def acquire(self) -> Child:
        child = super().acquire()
        real = child.call

        def call(
            op: str, header: dict[str, Any] | None = None, blobs: list[bytes] | None = None, *, deadline: float
        ) -> tuple[dict[str, Any], list[bytes]]:
            if op == "load":
                header = dict(header or {})
                header["limits"] = dict(header["limits"], address_space=False)
            return real(op, header, blobs, deadline=deadline)

        child.call = call  # type: ignore[method-assign]  # the test's hook on this one child
        return child


# ---- GPU jobs: cgroup limits, or no GPU worker --------------------------------------------------


def test_a_gpu_worker_without_a_cgroup_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_CGROUP", "off")  # a host that gives the worker no cgroup
    monkeypatch.delenv(GPU_NO_CGROUP_ENV, raising=False)
    pool = SandboxPool(device="cuda", gpu_watch=GpuMemoryWatch(0.0, read_usage=lambda pids: {}))
    try:
        with pytest.raises(SandboxUnavailable) as info:
            pool.start()
    finally:
        pool.close()
    assert "needs a cgroup" in str(info.value) and GPU_NO_CGROUP_ENV in str(info.value)


def test_the_explicit_switch_starts_a_gpu_worker_without_a_cgroup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_CGROUP", "off")
    monkeypatch.setenv(GPU_NO_CGROUP_ENV, "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    pool = SandboxPool(device="cuda", gpu_watch=GpuMemoryWatch(0.0, read_usage=lambda pids: {}))
    try:
        pool.start()  # past the cgroup check; without a GPU node it stops at the device check instead
    except SandboxUnavailable as exc:
        assert "cgroup" not in str(exc) and "/dev/nvidia" in str(exc), exc
    finally:
        pool.close()


def test_a_gpu_job_gets_the_cgroup_memory_and_pids_limits() -> None:
    pool = GpuLimitsPool(device="cpu", gpu_host_slack_mb=512)
    pool.start()
    try:
        if pool._cgroups is None and pool._new_cgroup() is None:  # noqa: SLF001
            pytest.skip("this host gives the worker no cgroup")
        child = pool.acquire()
        try:
            child.call(
                "load",
                {"source": "x = 1", "names": [], "limits": {"cpu_s": 20, "memory_mb": 256}},
                deadline=time.monotonic() + 20,
            )
            assert child.cgroup is not None
            cg = child.cgroup
            if cg.version == 2:
                memory = int((cg.memory_dir / "memory.max").read_text())
                pids = (cg.memory_dir / "pids.max").read_text().strip()
            else:
                memory = int((cg.memory_dir / "memory.limit_in_bytes").read_text())
                assert cg.pids_dir is not None
                pids = (cg.pids_dir / "pids.max").read_text().strip()
            assert memory == (256 + CGROUP_SLACK_MB + 512) * MB
            assert pids == str(CGROUP_PIDS)
        finally:
            pool.release(child)
    finally:
        pool.close()


def test_a_forked_memory_bomb_in_a_gpu_job_is_stopped_as_a_whole() -> None:
    grader = Grader(
        pool=GpuLimitsPool(device="cpu", gpu_host_slack_mb=0, gpu_watch=GpuMemoryWatch(0.0, read_usage=lambda pids: {}))
    )
    grader.start()
    try:
        result = grader.grade(identity(512), (ATTACKS / "dos_memory_fork.py").read_bytes())
        held = sum(int(line.split()[1]) for line in result.stdout.splitlines() if line.startswith("HELD "))
        # 4 x 700 MB, each child free of RLIMIT_AS: together they must stay within one sandbox budget.
        assert held <= 512 + CGROUP_SLACK_MB, result.stdout
        honest = grader.grade(identity(), HONEST)
        assert honest.full_marks, honest.output
    finally:
        grader.close()


# ---- GPU memory: every process of the sandbox -----------------------------------------------------


def per_process_memory(pids: Any) -> dict[int, int]:
    """The stand-in for NVML's per-process count: each process's own resident memory."""
    return {pid: anonymous_resident_bytes(pid) for pid in pids}


def test_gpu_memory_is_summed_over_every_process_of_the_sandbox() -> None:
    # Cap 1.2 GB; the sandbox's pid 1 holds ~0.3-0.4 GB, each of 3 children 0.5 GB: only the sum is over.
    watch = GpuMemoryWatch(0.0, read_usage=per_process_memory, total_bytes=0, slack_bytes=1200 * MB)
    grader = Grader(pool=SandboxPool(device="cpu", gpu_watch=watch))
    grader.start()
    try:
        source = (ATTACKS / "dos_gpu_memory_fork.py").read_text().replace("__HOG_BYTES__", str(500 * MB))
        result = grader.grade(identity(), source.encode())
        assert result.outcome == Outcome.MEMORY, result.output
        assert "4 process(es)" in result.output and "GPU memory" in result.output, result.output
        honest = grader.grade(identity(), HONEST)
        assert honest.full_marks, honest.output
    finally:
        grader.close()


def test_sandbox_pids_are_every_process_in_it() -> None:
    pool = SandboxPool(device="cpu")
    pool.start()
    try:
        child = pool.acquire()
        try:
            source = "import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        time.sleep(30)\n"
            child.call("load", {"source": source, "names": []}, deadline=time.monotonic() + 20)
            pids = child.sandbox_pids()
            assert child.pid in pids and len(pids) == 4, pids
            assert child.c1_pid not in pids  # C1 is outside the sandbox (it only waits for it)
            for pid in pids:
                with open(f"/proc/{pid}/status") as f:
                    ns = [line for line in f if line.startswith("NSpid:")][0].split()
                assert len(ns) == 3, ns  # host pid, then its pid inside the sandbox's namespace
        finally:
            pool.release(child)
    finally:
        pool.close()


def test_only_the_pinned_gpus_device_node_is_bound(tmp_path: Path) -> None:
    for name in (
        "nvidia0",
        "nvidia1",
        "nvidia2",
        "nvidia3",
        "nvidiactl",
        "nvidia-uvm",
        "nvidia-uvm-tools",
        "nvidia-modeset",
        "null",
    ):
        (tmp_path / name).touch()
    (tmp_path / "nvidia-caps").mkdir()
    assert gpu_device_nodes(os.listdir(tmp_path), 2) == ["nvidia-uvm", "nvidia-uvm-tools", "nvidia2", "nvidiactl"]


# ---- binds that contain the project ----------------------------------------------------------------


@pytest.fixture()
def install_under_usr():
    """A folder inside the /usr bind holding a 'project' with a secret, and a writable mount below /usr."""
    if os.geteuid() != 0:
        pytest.skip("needs root to plant a folder and a mount inside /usr")
    base = Path(tempfile.mkdtemp(prefix="grader-test-", dir="/usr/src"))
    base.chmod(0o755)  # as an install would be: readable by everyone, the sandbox's uid included
    protected = base / "app"
    protected.mkdir()
    secret = f"PROJECT-SECRET-{uuid.uuid4().hex}"
    (protected / "secret.txt").write_text(secret)
    sub = base / "scratch"
    sub.mkdir()
    mounted = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,mode=1777", "grader-test", str(sub)], capture_output=True
        ).returncode
        == 0
    )
    try:
        yield protected, sub if mounted else None, secret
    finally:
        if mounted:
            subprocess.run(["umount", str(sub)], check=False)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_a_bound_source_containing_the_project_shows_it_empty_and_read_only(install_under_usr) -> None:
    protected, sub, secret = install_under_usr
    pool = SandboxPool(device="cpu", protected_paths=[str(protected)])
    grader = Grader(pool=pool)
    grader.start()
    try:
        assert str(protected) in pool.bind_plan.masks and not pool.bind_plan.shows(str(protected / "secret.txt"))
        source = (
            (ATTACKS / "read_protected_bind.py")
            .read_text()
            .replace("__PROTECTED__", str(protected))
            .replace("__SUBMOUNT__", str(sub or "/usr/src"))
        )
        result = grader.grade(identity(), source.encode())
        assert result.full_marks, result.output
        assert secret not in result.stdout and "LEAK" not in result.stdout, result.stdout
        assert result.stdout.count("BLOCKED") == 3, result.stdout
        if sub is not None:
            assert "Read-only file system" in result.stdout, result.stdout  # the submount too
            assert not list(sub.iterdir())
    finally:
        grader.close()


def test_an_exercise_folder_the_sandbox_could_read_is_not_graded(install_under_usr) -> None:
    protected, _, _ = install_under_usr
    course = protected.parent / "course"  # inside the /usr bind, and nobody said to protect it
    course.mkdir()
    shutil.copy(ROOT / "exercises" / "misconceptions.toml", course / "misconceptions.toml")
    shutil.copytree(
        ROOT / "exercises" / "identity-block", course / "identity-block", ignore=shutil.ignore_patterns("__pycache__")
    )
    grader = Grader(device="cpu")
    grader.start()
    try:
        result = grader.grade(load_exercise(course / "identity-block"), HONEST)
        assert result.status == "error" and "the sandbox can read" in result.output, result.output
    finally:
        grader.close()


def test_a_protected_path_that_cannot_be_masked_is_refused() -> None:
    with pytest.raises(ProtectedBindError) as info:
        plan(["/usr"], [f"/usr/grader-test-missing-{uuid.uuid4().hex}/var"])
    assert "cannot be masked" in str(info.value)
    assert plan(["/usr"], [str(ROOT)]).sources == ["/usr"]  # nothing of the project inside: nothing to mask


# ---- the web first ---------------------------------------------------------------------------------


def test_grading_yields_the_cpu_to_the_web() -> None:
    pool = SandboxPool(device="cpu")
    grader = Grader(pool=pool)
    grader.start()
    try:
        child = pool.acquire()
        try:
            with open(f"/proc/{child.pid}/stat") as f:
                nice = int(f.read().rsplit(")", 1)[1].split()[16])
            assert nice >= pool.nice > 0  # the sandbox, and so everything it starts
            cg = child.cgroup
            if cg is not None and cg.version == 2 and (cg.memory_dir / "cpu.weight").exists():
                assert int((cg.memory_dir / "cpu.weight").read_text()) < 100
            # A wakeup of the sandbox never preempts the web (it cannot change that back: no
            # sched_setscheduler on its allow-list).
            assert os.sched_getscheduler(child.pid) == os.SCHED_BATCH
            # The sandbox's pid 1 leads a session of its own, so where autogroups weigh sessions
            # equally its autogroup carries the grading nice (set by the fork server: root's writes
            # are not rate-limited; an unprivileged fork server's may be, so only checked as root).
            if os.geteuid() == 0 and in_root_cpu_cgroup() and autogroup_nice() is not None:
                assert autogroup_nice(child.pid) == pool.nice
        finally:
            pool.release(child)
    finally:
        grader.close()


def test_nice_weights_follow_the_kernels_table() -> None:
    assert [nice_weight(n) for n in (0, 1, 5, 10, 19)] == [1024, 820, 335, 110, 15]


def test_a_session_autogroup_is_lowered_never_raised() -> None:
    """In a session of its own (this test's session must not change): the autogroup's nice goes to 7,
    then a lower value leaves it at 7; without autogroups on the host nothing happens."""
    code = (
        "from grader.sandbox.priority import autogroup_nice, set_autogroup_nice, yield_own_session\n"
        "if autogroup_nice() is None:\n"
        "    print('none')\n"
        "else:\n"
        "    print(yield_own_session(7), autogroup_nice(), set_autogroup_nice(3), autogroup_nice())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, start_new_session=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    if out.stdout.strip() == "none":
        pytest.skip("no autogroups on this host")
    if not in_root_cpu_cgroup():
        assert out.stdout.split()[0] == "False"  # autogroups do not apply inside a cpu cgroup: left alone
        return
    assert out.stdout.split() == ["True", "7", "True", "7"], out.stdout


def test_a_process_that_shares_its_session_leaves_the_autogroup_alone() -> None:
    """A worker started beside the web in one session (scripts/run.sh) must not slow the web down."""
    code = "from grader.sandbox.priority import yield_own_session, autogroup_nice; print(yield_own_session(9))"
    before = autogroup_nice()
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
    assert autogroup_nice() == before


def test_the_worker_joins_a_cpu_cgroup_weighted_as_its_nice() -> None:
    """Where the host lets it (cgroup v1 with a writable cpu hierarchy): the worker moves itself into a
    cpu cgroup of its own whose shares are its nice's weight; everything it starts is born inside;
    the cgroup is gone after the worker exits."""
    from grader.sandbox.priority import CGROUP_ROOT

    code = (
        "import os, subprocess, sys\n"
        "from grader.sandbox.priority import join_grading_cpu_cgroup\n"
        "d = join_grading_cpu_cgroup(10)\n"
        "if d is None:\n"
        "    print('none'); sys.exit(0)\n"
        "child = subprocess.run(['cat', '/proc/self/cgroup'], capture_output=True, text=True).stdout\n"
        "print(d, (d / 'cpu.shares').read_text().strip(), int(any(l.endswith(d.name) for l in child.splitlines())))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    if out.stdout.strip() == "none":
        pytest.skip("no writable cgroup v1 cpu hierarchy on this host")
    path, shares, inherited = out.stdout.split()
    assert Path(path).is_relative_to(CGROUP_ROOT / "cpu") and Path(path).name.startswith("grading-")
    assert int(shares) == nice_weight(10) == 110 and inherited == "1"
    assert not Path(path).exists()  # removed at exit
    off = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GRADER_CPU_CGROUP": "off"},
    )
    assert off.stdout.strip() == "none"


def test_a_dedicated_grading_process_yields_too() -> None:
    # In a process of its own: nice values only go up for an unprivileged process.
    # Every thread's nice; a thread that ends between the listing and the read is not counted.
    code = (
        "import os, threading; from grader.engine import Grader; t = threading.Thread(target=lambda: None); "
        "g = Grader(device='cpu', dedicated=True); t.start(); t.join(); nices = []\n"
        "for x in os.listdir('/proc/self/task'):\n"
        "    try: nices.append(os.getpriority(os.PRIO_PROCESS, int(x)))\n"
        "    except ProcessLookupError: pass\n"
        "print(min(nices))"
    )
    env = {k: v for k, v in os.environ.items() if k != "GRADER_NICE"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip()) >= 10, out.stdout


# ---- CPU time per step, and limits sized to the reference ------------------------------------------

SPIN_IN_CHILDREN = b"""
import os
import torch
from torch import nn


class IdentityBlock(nn.Module):
    def __init__(self, channels, kernel_size=3):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x):
        for _ in range(2):  # the CPU is spent by children while the sandbox's pid 1 only waits
            if os.fork() == 0:
                while True:
                    pass
        os.wait()
        return x
"""


@pytest.mark.parametrize(
    "name, source",
    [
        ("a loop in forward", (ATTACKS / "dos_infinite_loop.py").read_bytes()),
        ("a loop at import", (ATTACKS / "dos_infinite_loop_import.py").read_bytes()),
        ("loops in forked children", SPIN_IN_CHILDREN),
    ],
)
def test_a_spinning_step_is_stopped_by_its_cpu_limit_not_the_wall(name: str, source: bytes) -> None:
    from grader.sandbox.limits import JobLimits

    exercise = identity()
    limits = JobLimits(
        wall_s=exercise.limits.wall_s, cpu_s=exercise.limits.cpu_s, memory_mb=exercise.limits.memory_mb, step_cpu_s=1.0
    )
    grader = Grader(device="cpu")
    grader.start()
    try:
        started = time.monotonic()
        result = grader.grade(exercise, source, limits=limits)
        elapsed = time.monotonic() - started
        assert result.outcome == Outcome.TIMEOUT and result.score == 0, result.output
        assert "more than 1 s of CPU time" in result.output and "1 s of CPU time per step" in result.output, (
            result.output
        )
        assert elapsed < exercise.limits.wall_s / 2, f"{name}: stopped after {elapsed:.1f} s, by the wall limit"
        honest = grader.grade(exercise, HONEST, limits=limits)
        assert honest.full_marks, honest.output
    finally:
        grader.close()


def test_limits_derived_from_the_reference_fit_it_and_stay_under_the_toml() -> None:
    from grader.engine import derive_limits, measure_reference_cost

    exercise = identity()
    grader = Grader(device="cpu")
    grader.start()
    try:
        cost = measure_reference_cost(grader, exercise, runs=2)
        assert 0 < cost.step_s <= cost.wall_s and cost.cpu_s > 0
        limits = derive_limits(grader, exercise, runs=2)
        toml = exercise.limits
        assert limits.wall_s <= toml.wall_s and limits.cpu_s <= toml.cpu_s and limits.memory_mb == toml.memory_mb
        assert 1.0 <= limits.step_cpu_s <= limits.cpu_s
        assert grader.grade(exercise, HONEST, limits=limits).full_marks
        # A stored limit can never loosen the TOML's.
        loose = dataclasses.replace(limits, wall_s=10 * toml.wall_s, cpu_s=10 * toml.cpu_s, step_cpu_s=10 * toml.cpu_s)
        assert loose.within(toml) == dataclasses.replace(
            limits, wall_s=toml.wall_s, cpu_s=toml.cpu_s, step_cpu_s=toml.cpu_s
        )
    finally:
        grader.close()

"""The GPU memory cap is enforced from outside the sandbox (grader/sandbox/gpu.py).

CI has no GPU, so the driver's per-process count is stood in for by the child's anonymous resident
memory, read from /proc by the trusted side exactly where NVML would be read. What is tested is the real
enforcement path: the watch thread, the kill of the whole sandbox, the 'memory' outcome and its
message, and that the next honest submission is unaffected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pytest

from grader.engine import Grader
from grader.exercise import load_exercise
from grader.results import Outcome
from grader.sandbox.gpu import GpuMemoryWatch, anonymous_resident_bytes
from grader.sandbox.pool import SandboxPool

ROOT = Path(__file__).resolve().parents[2]
ATTACK = Path(__file__).resolve().parent / "attacks" / "dos_gpu_memory.py"
MB = 1 << 20


def per_process_memory(pids: Iterable[int]) -> dict[int, int]:
    """The stand-in for NVML's per-process count: each process's own resident memory."""
    return {pid: anonymous_resident_bytes(pid) for pid in pids}


@pytest.fixture(scope="module")
def watched_grader():
    # Cap: 700 MB "device memory" (a warm child holds about 250-400 MB resident).
    watch = GpuMemoryWatch(0.0, read_usage=per_process_memory, total_bytes=0, slack_bytes=700 * MB)
    grader = Grader(pool=SandboxPool(device="cpu", gpu_watch=watch))
    grader.start()
    yield grader
    grader.close()


def test_over_the_cap_is_killed_and_reported_as_memory(watched_grader):
    exercise = load_exercise(ROOT / "exercises" / "identity-block")
    source = ATTACK.read_text().replace("__HOG_BYTES__", str(900 * MB)).encode()
    result = watched_grader.grade(exercise, source)
    assert result.status == "graded"
    assert result.outcome == Outcome.MEMORY, result.output
    assert result.score == 0
    assert "GPU memory" in result.output and "cap" in result.output
    # The killed sandbox did not take the worker with it.
    honest = watched_grader.grade(exercise, (ROOT / "exercises" / "identity-block" / "solution.py").read_bytes())
    assert honest.score == honest.max_score, honest.output


def test_under_the_cap_grades_normally(watched_grader):
    exercise = load_exercise(ROOT / "exercises" / "identity-block")
    source = ATTACK.read_text().replace("__HOG_BYTES__", str(50 * MB)).replace("time.sleep(2.0)", "pass").encode()
    result = watched_grader.grade(exercise, source)
    assert result.outcome != Outcome.MEMORY, result.output
    assert result.score == result.max_score, result.output


class GpuLikePool(SandboxPool):
    """Sends the 'limits' a GPU job gets (no RLIMIT_AS, no cgroup memory limit: CUDA reserves huge
    address space), so the host-memory half of the watch is what stands between a bomb and the host."""

    def acquire(self):  # type: ignore[no-untyped-def]
        child = super().acquire()
        real = child.call

        def call(op, header=None, blobs=None, *, deadline):  # type: ignore[no-untyped-def]
            if op == "load":  # the limits ride on the load command
                header = dict(header or {})
                header["limits"] = dict(header["limits"], address_space=False)
            return real(op, header, blobs, deadline=deadline)

        child.call = call  # type: ignore[method-assign]
        return child


def test_host_memory_of_a_gpu_job_is_bounded_from_outside():
    import dataclasses

    base = load_exercise(ROOT / "exercises" / "identity-block")
    exercise = dataclasses.replace(base, limits=dataclasses.replace(base.limits, memory_mb=256))
    watch = GpuMemoryWatch(0.0, read_usage=lambda pids: {}, total_bytes=0)  # the GPU half reads nothing here
    grader = Grader(pool=GpuLikePool(device="cpu", gpu_watch=watch))
    grader.start()
    try:
        bomb = (Path(__file__).resolve().parent / "attacks" / "dos_memory_bomb.py").read_bytes()
        result = grader.grade(exercise, bomb)
        assert result.outcome == Outcome.MEMORY, result.output
        assert "640 MB of (host) memory" in result.output, result.output
        honest = grader.grade(exercise, (ROOT / "exercises" / "identity-block" / "solution.py").read_bytes())
        assert honest.score == honest.max_score, honest.output
    finally:
        grader.close()

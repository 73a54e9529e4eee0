"""The pool with several children forked ahead (GPU workers default to 3) and zygote recycling."""

from __future__ import annotations

import os
import time
from pathlib import Path

from grader.engine import Grader
from grader.exercise import load_exercise
from grader.sandbox.pool import SandboxPool

ROOT = Path(__file__).resolve().parents[2]


def _children_of(pid: int) -> set[int]:
    out = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.add(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return out


def test_prefork_three_with_recycling_grades_every_submission():
    exercise = load_exercise(ROOT / "exercises" / "identity-block")
    honest = (ROOT / "exercises" / "identity-block" / "solution.py").read_bytes()
    wrong = (ROOT / "tests" / "grader" / "submissions" / "identity-block" / "no_shortcut.py").read_bytes()
    pool = SandboxPool(device="cpu", prefork=3, recycle_after=2)
    grader = Grader(pool=pool)
    grader.start()
    zygotes = set()
    try:
        for i in range(6):
            r = grader.grade(exercise, honest if i % 2 == 0 else wrong)
            assert r.status == "graded", r.output
            assert (r.score == r.max_score) == (i % 2 == 0), r.output
            assert len(pool._ready) <= 3  # noqa: SLF001
            assert pool._zygote is not None  # noqa: SLF001
            zygotes.add(pool._zygote.pid)  # noqa: SLF001
        assert len(zygotes) >= 2, "the fork server was never recycled"
    finally:
        zygote = pool._zygote.pid if pool._zygote else 0  # noqa: SLF001
        grader.close()
    time.sleep(0.2)
    assert not (zygote and os.path.exists(f"/proc/{zygote}")), "the fork server outlived close()"
    # Nothing forked ahead is left behind either: the zygote's children die with it (PDEATHSIG).
    assert not (zygote and _children_of(zygote))

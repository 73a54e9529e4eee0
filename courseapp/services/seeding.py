"""Record graded submissions directly (no grader run): for the seed_course command, the browser test
and the bench. The grading path itself is tested elsewhere."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from courseapp.models import ExerciseRevision, GradingJob, Result, Submission


def passed_check(name: str, points: float, visibility: str = "hidden") -> dict[str, Any]:
    return {
        "name": name,
        "score": points,
        "max_score": points,
        "status": "passed",
        "output": "",
        "visibility": visibility,
        "misconceptions": [],
    }


def failed_check(
    name: str, points: float, misconceptions: Iterable[str] = (), output: str = "", visibility: str = "hidden"
) -> dict[str, Any]:
    return {
        "name": name,
        "score": 0,
        "max_score": points,
        "status": "failed",
        "output": output,
        "visibility": visibility,
        "misconceptions": list(misconceptions),
    }


def record_graded(
    *,
    user: User,
    revision: ExerciseRevision,
    source: str,
    tests: list[dict[str, Any]],
    at: datetime | None = None,
    outcome: str | None = None,
    execution: dict[str, Any] | None = None,
) -> Submission:
    """A submission with a finished job and a result whose score is the sum of its checks."""
    score = sum(float(t.get("score", 0)) for t in tests)
    misconceptions = list(dict.fromkeys(m for t in tests for m in t.get("misconceptions", [])))
    full = abs(score - revision.max_score) < 1e-9
    return record_result(
        user=user,
        revision=revision,
        source=source,
        at=at,
        result={
            "score": score,
            "status": "graded",
            "outcome": outcome or ("ok" if full else "wrong"),
            "output": "All checks passed." if not misconceptions and full else "Some checks failed.",
            "tests": tests,
            "misconceptions": misconceptions,
            "execution": execution or {"wall_s": 1.2, "cpu_s": 1.0, "device": "cpu", "peak_rss_mb": 180.0},
        },
    )


@transaction.atomic
def record_result(
    *, user: User, revision: ExerciseRevision, source: str, result: dict[str, Any], at: datetime | None = None
) -> Submission:
    """A submission with a finished job and the given grader result (contracts.md §2 JSON)."""
    sub = Submission.objects.create(user=user, revision=revision, source=source)
    at = at or timezone.now()
    Submission.objects.filter(pk=sub.pk).update(created_at=at)
    sub.created_at = at
    job = GradingJob.objects.create(
        submission=sub,
        revision=revision,
        status=GradingJob.Status.DONE,
        attempts=1,
        created_at=at,
        queued_at=at,
        started_at=at + timedelta(seconds=0.2),
        finished_at=at + timedelta(seconds=1.5),
    )
    Result.objects.create(
        job=job,
        score=result["score"],
        max_score=revision.max_score,
        status=result["status"],
        outcome=result["outcome"],
        output=result.get("output", ""),
        tests=result.get("tests", []),
        misconceptions=result.get("misconceptions", []),
        execution=result.get("execution", {}),
        stdout=result.get("stdout", ""),
    )
    return sub


def identity_block_samples() -> dict[str, dict]:
    """Real identity-block submissions (tests/grader/submissions/identity-block/ and the reference) with
    the real grader's results, recorded once: {name: {"source": str, "result": dict}}."""
    import json
    from pathlib import Path

    return json.loads((Path(__file__).resolve().parent.parent / "seed" / "identity_block_results.json").read_text())

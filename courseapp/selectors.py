"""Reads for the student pages: each a fixed number of queries, whatever the number of rows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Count, F, Min, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from courseapp.models import Exercise, GradingJob, Result, Submission
from grader.exercise import ExerciseError, Misconception, load_misconceptions


# A revision row carries the whole exercise folder (`files`, tens of KB of JSON; ~190 KB for a
# free-text exercise's labelled answers). The student pages never show it: reading it for every
# revision a page touches was a large share of their CPU. Code that needs it (uploads, the worker)
# loads it on first access.
_REVISION_FOLDER = "files"


def exercise_list_for_user(user: User) -> QuerySet[Exercise]:
    """The exercises of the user's courses (with a current revision), each annotated with the
    user's number of submissions, best score so far (of the results that count) and the status of
    their latest submission's newest job. One query."""
    mine = Submission.objects.filter(user=user, revision__exercise=OuterRef("pk"))
    counting = Result.objects.filter(job__submission=OuterRef("pk")).order_by("-job_id")
    best = (
        mine.annotate(score=Subquery(counting.values("score")[:1]), status=Subquery(counting.values("status")[:1]))
        .filter(status="graded")
        .order_by(F("score").desc(nulls_last=True))
        .values("score")[:1]
    )
    latest_status = (
        GradingJob.objects.filter(submission__user=user, submission__revision__exercise=OuterRef("pk"))
        .order_by("-submission__created_at", "-submission_id", "-id")
        .values("status")[:1]
    )
    return (
        Exercise.objects.filter(course__enrolments__user=user, current_revision__isnull=False)
        .select_related("course", "current_revision")
        .defer(f"current_revision__{_REVISION_FOLDER}")
        .annotate(
            my_submissions=Count("revisions__submissions", distinct=True, filter=Q(revisions__submissions__user=user)),
            my_best_score=Subquery(best),
            my_latest_status=Subquery(latest_status),
        )
        .order_by("course__title", "order", "slug")
    )


def exercises_for_user_by_slug(user: User, slug: str) -> list[Exercise]:
    """Every exercise with this slug in the user's courses (one per course), for the course-less URL."""
    return list(
        Exercise.objects.filter(slug=slug, course__enrolments__user=user, current_revision__isnull=False)
        .select_related("course", "current_revision", "policy")
        .defer(f"current_revision__{_REVISION_FOLDER}")
        .order_by("course__title")
    )


def exercise_get_for_user_in_course(user: User, course_slug: str, slug: str) -> Exercise:
    """The exercise `slug` of the course `course_slug`, when the user is enrolled there; else 404."""
    exercise = (
        Exercise.objects.filter(
            slug=slug, course__slug=course_slug, course__enrolments__user=user, current_revision__isnull=False
        )
        .select_related("course", "current_revision", "policy")  # policy: policies.policy_for reads it here
        .defer(f"current_revision__{_REVISION_FOLDER}")
        .first()
    )
    if exercise is None:
        raise Http404("No such exercise")
    return exercise


def exercise_get_for_user_by_pk(user: User, exercise_id: int) -> Exercise:
    """An exercise by primary key, when the user is enrolled in its course; else 404."""
    exercise = (
        Exercise.objects.filter(pk=exercise_id, course__enrolments__user=user, current_revision__isnull=False)
        .select_related("course", "current_revision", "policy")  # policy: policies.policy_for reads it here
        .defer(f"current_revision__{_REVISION_FOLDER}")
        .first()
    )
    if exercise is None:
        raise Http404("No such exercise")
    return exercise


def _with_jobs(submissions: QuerySet[Submission]) -> QuerySet[Submission]:
    """Prefetch every grading job with its result (one more query), so `latest_job` and
    `current_result` cost nothing per submission."""
    return submissions.prefetch_related(Prefetch("jobs", queryset=GradingJob.objects.select_related("result")))


# What a line of the submission history shows of a result (its score), not the checks' JSON.
_RESULT_SUMMARY = ("id", "job_id", "score", "max_score", "status")


def submission_list_for_user(user: User, exercise: Exercise) -> QuerySet[Submission]:
    """The user's own submissions to an exercise (all revisions), newest first, with their jobs and
    the results' scores (2 queries): what the history lists and counts (attempts used, jobs in
    flight), not the sources or the checks."""
    return (
        Submission.objects.filter(user=user, revision__exercise=exercise)
        .only("id", "user_id", "revision_id", "created_at")
        .prefetch_related(
            Prefetch(
                "jobs",
                queryset=GradingJob.objects.select_related("result").only(
                    "id",
                    "submission_id",
                    "regrade_id",
                    "status",
                    "attempts",
                    *(f"result__{f}" for f in _RESULT_SUMMARY),
                ),
            )
        )
        .order_by("-created_at", "-id")
    )


def submission_get_for_user(user: User, submission_id: int) -> Submission:
    """A submission, only if it is the user's own (404 otherwise: others' work is not even confirmed
    to exist), with its jobs and results (2 queries)."""
    submission = _with_jobs(
        Submission.objects.filter(pk=submission_id, user=user)
        .select_related("revision__exercise__course")
        .defer(f"revision__{_REVISION_FOLDER}")
    ).first()
    if submission is None:
        raise Http404("No such submission")
    return submission


def submission_page_get_for_user(user: User, submission_id: int) -> Submission:
    """submission_get_for_user for the submission's page, which is its exercise's page: also 404
    unless the user is enrolled in the exercise's course and it is open (has a current revision,
    loaded with the exercise, its course and policy). 2 queries, where the two selectors took 3."""
    submission = _with_jobs(
        Submission.objects.filter(
            pk=submission_id,
            user=user,
            revision__exercise__course__enrolments__user=user,
            revision__exercise__current_revision__isnull=False,
        )
        .select_related(
            "revision__exercise__course", "revision__exercise__current_revision", "revision__exercise__policy"
        )
        .defer(f"revision__{_REVISION_FOLDER}", f"revision__exercise__current_revision__{_REVISION_FOLDER}")
    ).first()
    if submission is None:
        raise Http404("No such submission")
    return submission


def job_status_fingerprint(user: User, submission_id: int) -> tuple[Any, ...] | None:
    """What the live status depends on, in one light query (no joins beyond the ownership check):
    the newest job's (id, status, attempts, progress, finished_at), or None when it is not the user's."""
    return (
        GradingJob.objects.filter(submission_id=submission_id, submission__user=user)
        .order_by("-id")
        .values_list("id", "status", "attempts", "progress", "finished_at")
        .first()
    )


@dataclass(frozen=True)
class QueueWait:
    """Where a queued job stands: shown to the student, and it paces the page's status polls."""

    ahead: int  # unfinished jobs on its queue asked for before it (regrades wait behind students' work)
    eta_s: float | None  # at the rate its queue finished jobs lately; None when too few finished to tell


QUEUE_RATE_WINDOW_S = 120
QUEUE_RATE_MIN_FINISHED = 5


def queue_wait(job: GradingJob) -> QueueWait | None:
    """For a queued job, how many are ahead of it and about how long it will wait (1 or 2 queries);
    None for a job that is not waiting."""
    if job.status != GradingJob.Status.QUEUED:
        return None
    unfinished = GradingJob.objects.filter(
        queue=job.queue, status__in=(GradingJob.Status.QUEUED, GradingJob.Status.RUNNING), id__lt=job.pk
    )
    if job.regrade_id is None:
        unfinished = unfinished.filter(regrade__isnull=True)
    ahead = unfinished.count()
    per_s = queue_rate(job.queue)
    return QueueWait(ahead=ahead, eta_s=(ahead + 1) / per_s if per_s else None)


# A queue's rate is the same for every waiting student: in a rush hundreds of page and status reads a
# second ask it. Each web process keeps a known rate for QUEUE_RATE_REUSE_S (an estimate either way).
QUEUE_RATE_REUSE_S = 2.0
_queue_rates: dict[str, tuple[float, float]] = {}  # queue -> (monotonic time read, jobs per second)


def queue_rate(queue: str) -> float | None:
    """Jobs per second the queue finished lately (since the first of those that finished in the last
    QUEUE_RATE_WINDOW_S: a rush may have just begun); None while too few finished to tell (1 query,
    none when this process read it in the last QUEUE_RATE_REUSE_S)."""
    reused = _queue_rates.get(queue)
    if reused is not None and time.monotonic() - reused[0] < QUEUE_RATE_REUSE_S:
        return reused[1]
    now = timezone.now()
    recent = GradingJob.objects.filter(
        queue=queue, finished_at__gt=now - timedelta(seconds=QUEUE_RATE_WINDOW_S)
    ).aggregate(n=Count("id"), first=Min("finished_at"))
    if recent["n"] < QUEUE_RATE_MIN_FINISHED:
        return None  # not kept: the first estimate shows as soon as there is one
    per_s: float = recent["n"] / max(1.0, (now - recent["first"]).total_seconds())
    _queue_rates[queue] = (time.monotonic(), per_s)
    return per_s


def queue_rates_forget() -> None:
    """Drop the rates this process keeps (tests: each starts from its own database)."""
    _queue_rates.clear()


POLL_FIRST_MS = 500
POLL_MAX_MS = 10_000


# Before a queue has a rate (a rush's first seconds: fewer than QUEUE_RATE_MIN_FINISHED graded in the
# window), the wait is paced as if grades came this fast: about the fastest measured here (bench/grading.py,
# two warm workers on correct submissions alone: ~21 a second); a faster queue's feedback shows a poll late.
POLL_ASSUMED_GRADES_PER_S = 20.0


def poll_after_ms(wait: QueueWait | None) -> int:
    """When the page should ask for the status again: soon while the grade may come any moment, a
    quarter of the expected wait (up to 10 s) while the job waits behind many. In a rush, hundreds of
    waiting students polling every few seconds took the CPU the web and the graders needed; at its
    start no rate is known yet, but the queue ahead is, paced at POLL_ASSUMED_GRADES_PER_S."""
    if wait is None:
        return POLL_FIRST_MS
    eta_s = wait.eta_s if wait.eta_s is not None else (wait.ahead + 1) / POLL_ASSUMED_GRADES_PER_S
    return int(min(POLL_MAX_MS, max(POLL_FIRST_MS, eta_s * 1000 / 4)))


def job_state(job: GradingJob) -> str:
    """What the student sees: queued, delayed, running, graded or failed."""
    if job.status == GradingJob.Status.DONE:
        return "graded"
    if job.status == GradingJob.Status.QUEUED and job.attempts:
        return "delayed"
    return job.status


@lru_cache(maxsize=4)
def _catalogue(path: str, mtime: float) -> dict[str, Misconception]:
    return load_misconceptions(path)


def misconception_catalogue() -> dict[str, Misconception]:
    """The module's misconception titles and hints (exercises/misconceptions.toml), cached per file version."""
    path = Path(settings.EXERCISES_DIR) / "misconceptions.toml"
    try:
        return _catalogue(str(path), path.stat().st_mtime)
    except (OSError, ExerciseError):
        return {}


def _misconceptions(ids: list[str], catalogue: dict[str, Misconception]) -> list[dict[str, str]]:
    out = []
    for mid in dict.fromkeys(ids):
        m = catalogue.get(mid)
        out.append(
            {
                "id": mid,
                "title": m.title if m else mid,
                "hint": m.hint if m else "",
                "explanation": m.explanation if m else "",
            }
        )
    return out


def result_feedback(
    result: Result, labels: dict[str, str] | None = None, *, reveal_hidden: bool = False
) -> dict[str, Any]:
    """A Result as the student may see it: checks grouped failed/passed; a hidden check shows its
    name, pass/fail and the named misconception, never its diagnostic output. `labels` renames
    checks (a quiz's question ids become their prompts). `reveal_hidden` (the exercise's policy says
    so) shows hidden checks' output too."""
    catalogue = misconception_catalogue()
    failed: list[dict[str, Any]] = []
    passed: list[dict[str, Any]] = []
    for test in result.tests:
        visible = test.get("visibility", "hidden") == "visible"
        item = {
            "name": (labels or {}).get(test.get("name", ""), test.get("name", "")),
            "score": test.get("score", 0),
            "max_score": test.get("max_score", 0),
            "visible": visible,
            "output": test.get("output", "") if visible or reveal_hidden else "",
            "misconceptions": _misconceptions(test.get("misconceptions", []), catalogue),
        }
        (passed if test.get("status") == "passed" else failed).append(item)
    return {
        "failed": failed,
        "passed": passed,
        "misconceptions": _misconceptions(result.misconceptions, catalogue),
        # A check's hint is shown beside the check only when the overall list does not already show it.
        "overall_ids": set(result.misconceptions),
        "execution": result.execution,
    }


def progress_text(job: GradingJob) -> str:
    """One line for the live status while a long grade runs (e.g. the degradation experiment)."""
    p = job.progress or {}
    if job.status != GradingJob.Status.RUNNING or not p:
        return ""
    if p.get("event") == "train":
        loss = p.get("loss")
        loss_text = f", loss {loss:.3f}" if isinstance(loss, (int, float)) else ""
        return f"Training the {p.get('net', '')} net: step {p.get('step', '?')} of {p.get('total', '?')}{loss_text}"
    if p.get("event") == "measured":
        return "Measuring the trained nets…"
    return ""

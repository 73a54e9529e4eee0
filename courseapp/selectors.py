"""Reads for the student pages: each a fixed number of queries, whatever the number of rows."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from courseapp.models import Exercise, GradingJob, Submission
from grader.exercise import ExerciseError, Misconception, load_misconceptions


def exercise_list_for_user(user) -> QuerySet[Exercise]:
    """The exercises of the user's courses (with a current revision), each annotated with the
    user's number of submissions, best score so far and the status of their latest job."""
    mine = Submission.objects.filter(user=user, revision__exercise=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        Exercise.objects.filter(course__enrolments__user=user, current_revision__isnull=False)
        .select_related("course", "current_revision")
        .annotate(
            my_submissions=Count("revisions__submissions", distinct=True, filter=Q(revisions__submissions__user=user)),
            my_best_score=Max(
                "revisions__submissions__job__result__score",
                filter=Q(revisions__submissions__user=user, revisions__submissions__job__result__status="graded"),
            ),
            my_latest_status=Subquery(mine.values("job__status")[:1]),
        )
        .order_by("course__title", "order", "slug")
    )


def exercise_get_for_user(user, slug: str) -> Exercise:
    """One exercise of a course the user is enrolled in, with its current revision; else 404."""
    exercise = (
        Exercise.objects.filter(slug=slug, course__enrolments__user=user, current_revision__isnull=False)
        .select_related("course", "current_revision")
        .first()
    )
    if exercise is None:
        raise Http404("No such exercise")
    return exercise


def submission_list_for_user(user, exercise: Exercise) -> QuerySet[Submission]:
    """The user's own submissions to an exercise (all revisions), newest first, with job and result."""
    return (
        Submission.objects.filter(user=user, revision__exercise=exercise)
        .select_related("revision", "job", "job__result")
        .order_by("-created_at", "-id")
    )


def submission_get_for_user(user, submission_id: int) -> Submission:
    """A submission, only if it is the user's own (404 otherwise: others' work is not even confirmed to exist)."""
    submission = (
        Submission.objects.filter(pk=submission_id, user=user)
        .select_related("revision__exercise__course", "job", "job__result")
        .first()
    )
    if submission is None:
        raise Http404("No such submission")
    return submission


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
        out.append({"id": mid, "title": m.title if m else mid, "hint": m.hint if m else "",
                    "explanation": m.explanation if m else ""})
    return out


def result_feedback(result, labels: dict[str, str] | None = None) -> dict:
    """A Result as the student may see it: checks grouped failed/passed; a hidden check shows its
    name, pass/fail and the named misconception, never its diagnostic output. `labels` renames
    checks (a quiz's question ids become their prompts)."""
    catalogue = misconception_catalogue()
    failed, passed = [], []
    for test in result.tests:
        visible = test.get("visibility", "hidden") == "visible"
        item = {
            "name": (labels or {}).get(test.get("name", ""), test.get("name", "")),
            "score": test.get("score", 0),
            "max_score": test.get("max_score", 0),
            "visible": visible,
            "output": test.get("output", "") if visible else "",
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

"""Grades as the course counts them: raw result x late factor, instructor overrides on top, and the
gradebook CSVs (Canvas-style import layout, and every submission).

Per submission: `raw` = the score of the result that counts (Submission.current_result: a regraded
submission's newest); `adjusted` = raw x late factor (time = when the student submitted); `final` = the newest override's score if there is one, else `adjusted`.
Per student and exercise: `best` = highest adjusted score, `latest` = adjusted score of the newest
attempt, `final` = the newest override on any of the student's submissions of the exercise if there
is one, else `best`.

Everything here is a fixed number of queries, whatever the number of students and submissions.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from courseapp.csvsafe import safe_writer
from courseapp.models import Course, Enrolment, Exercise, Extension, ExercisePolicy, GradeOverride, Result, Submission
from courseapp import policies


@dataclass
class Attempt:
    submission_id: int
    user_id: int
    exercise_id: int
    at: datetime  # when the student submitted
    status: str  # the newest job's status
    raw: float | None
    max_score: float
    factor: float
    late: bool
    override: float | None
    override_at: datetime | None
    comment: str
    # A free-text grade waiting for review (courseapp.review): not counted until reviewed or released.
    provisional: bool = False

    @property
    def adjusted(self) -> float | None:
        return None if self.raw is None else self.raw * self.factor

    @property
    def final(self) -> float | None:
        return self.override if self.override is not None else self.adjusted


@dataclass
class Cell:
    best: float | None = None
    latest: float | None = None
    final: float | None = None
    attempts: int = 0
    late: bool = False
    overridden: bool = False
    pending: bool = False  # an attempt waits for review (its grade is not counted yet)
    attempts_list: list = field(default_factory=list)


Windows = dict[tuple[int, int | None], policies.Window]


def windows_for_course(course: Course) -> Windows:
    """{(exercise_id, None): course window, (exercise_id, user_id): extended window} (2 queries)."""
    pols = {p.exercise_id: p for p in ExercisePolicy.objects.filter(exercise__course=course)}
    out: Windows = {(eid, None): policies.window_from(p) for eid, p in pols.items()}
    for ext in Extension.objects.filter(exercise__course=course):
        out[(ext.exercise_id, ext.user_id)] = policies.window_from(pols.get(ext.exercise_id), ext)
    return out


def window_lookup(windows: Windows, exercise_id: int, user_id: int) -> policies.Window:
    return windows.get((exercise_id, user_id)) or windows.get((exercise_id, None)) or policies.DEFAULT


def attempts_for_course(
    course: Course,
    *,
    exercise_ids: Iterable[int] | None = None,
    user_ids: Iterable[int] | None = None,
    windows: Windows | None = None,
) -> list[Attempt]:
    """Every submission of the course's students with the result that counts (a regraded
    submission's newest result), oldest first. 2 queries (+2 for the windows when not given)."""
    windows = windows if windows is not None else windows_for_course(course)
    # the newest override per submission, in one query (few rows) instead of a subquery per submission
    overrides: dict[int, tuple[float, datetime, str]] = {}
    for sid, score, at, comment in (
        GradeOverride.objects.filter(submission__revision__exercise__course=course)
        .order_by("created_at", "id")
        .values_list("submission_id", "score", "created_at", "comment")
    ):
        overrides[sid] = (score, at, comment)
    qs = Submission.objects.filter(revision__exercise__course=course)
    if exercise_ids is not None:
        qs = qs.filter(revision__exercise_id__in=exercise_ids)
    if user_ids is not None:
        qs = qs.filter(user_id__in=user_ids)
    current_extra = Result.objects.filter(pk=OuterRef("current_result_id")).values("extra")[:1]
    rows = (
        qs.with_grading()
        .annotate(current_extra=Subquery(current_extra))
        .values(
            "id",
            "user_id",
            "revision__exercise_id",
            "created_at",
            "latest_status",
            "current_score",
            "current_max_score",
            "revision__max_score",
            "current_extra",
        )
        .order_by("created_at", "id")
    )
    out = []
    for r in rows:
        window = window_lookup(windows, r["revision__exercise_id"], r["user_id"])
        ov_score, ov_at, ov_comment = overrides.get(r["id"], (None, None, ""))
        out.append(
            Attempt(
                submission_id=r["id"],
                user_id=r["user_id"],
                exercise_id=r["revision__exercise_id"],
                at=r["created_at"],
                status=r["latest_status"] or "",
                raw=r["current_score"],
                max_score=r["current_max_score"] or r["revision__max_score"],
                factor=policies.late_factor(window, r["created_at"]),
                late=policies.is_late(window, r["created_at"]),
                override=ov_score,
                override_at=ov_at,
                comment=ov_comment or "",
                provisional=_provisional(r["current_extra"]) and ov_score is None,
            )
        )
    return out


def cells(attempts: list[Attempt]) -> dict[tuple[int, int], Cell]:
    """{(user_id, exercise_id): Cell} from attempts sorted oldest first."""
    out: dict[tuple[int, int], Cell] = {}
    newest_override: dict[tuple[int, int], tuple] = {}
    for a in attempts:
        c = out.setdefault((a.user_id, a.exercise_id), Cell())
        c.attempts += 1
        if a.provisional:
            c.pending = True
        elif a.adjusted is not None:
            c.best = a.adjusted if c.best is None else max(c.best, a.adjusted)
            c.latest = a.adjusted
            c.late = a.late
        if a.override is not None:
            key = (a.user_id, a.exercise_id)
            if key not in newest_override or a.override_at > newest_override[key][0]:
                newest_override[key] = (a.override_at, a.override)
    for key, c in out.items():
        if key in newest_override:
            c.final, c.overridden = newest_override[key][1], True
        else:
            c.final = c.best
    return out


def course_students(course: Course) -> QuerySet[User]:
    return (
        get_user_model()
        .objects.filter(enrolments__course=course, enrolments__role=Enrolment.Role.STUDENT)
        .order_by("last_name", "first_name", "username")
    )


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}".rstrip("0").rstrip(".")


def gradebook_csv(course: Course, mode: str = "final") -> str:
    """Canvas-style gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, one column per
    exercise, a 'Points Possible' row first. `mode` is best, latest or final."""
    if mode not in ("best", "latest", "final"):
        raise ValueError(mode)
    exercises = list(
        Exercise.objects.filter(course=course, current_revision__isnull=False)
        .select_related("current_revision")
        .order_by("order", "slug")
    )
    students = list(course_students(course))
    grid = cells(attempts_for_course(course))
    buf = io.StringIO()
    w = safe_writer(buf)  # no cell read as a formula (courseapp.csvsafe)
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + [f"{e.title} ({e.pk})" for e in exercises])
    w.writerow(
        ["    Points Possible", "", "", "", ""]
        + [_fmt(e.current_revision.max_score if e.current_revision else None) for e in exercises]
    )
    for s in students:
        name = f"{s.last_name}, {s.first_name}" if s.last_name else (s.get_full_name() or s.username)
        row = [name, s.pk, s.username, s.email or s.username, course.title]
        for e in exercises:
            c = grid.get((s.pk, e.pk))
            row.append(_fmt(getattr(c, mode)) if c else "")
        w.writerow(row)
    return buf.getvalue()


def _provisional(extra: object) -> bool:
    """A free-text grade waiting for review (courseapp.review): the grader marked it provisional."""
    return isinstance(extra, dict) and extra.get("provisional") is True


def submissions_csv(course: Course) -> str:
    """Every submission of the course, one row each, with the result that counts."""
    windows = windows_for_course(course)
    newest_override = GradeOverride.objects.filter(submission=OuterRef("pk")).order_by("-created_at", "-id")
    current = Result.objects.filter(pk=OuterRef("current_result_id"))
    rows = (
        Submission.objects.filter(revision__exercise__course=course)
        .with_grading()
        .annotate(
            ov_score=Subquery(newest_override.values("score")[:1]),
            ov_reason=Subquery(newest_override.values("reason")[:1]),
            current_tests=Subquery(current.values("tests")[:1]),
            current_extra=Subquery(current.values("extra")[:1]),
            regrades=Count("jobs", filter=Q(jobs__regrade__isnull=False)),
        )
        .values(
            "id",
            "user_id",
            "user__username",
            "revision__exercise_id",
            "revision__exercise__slug",
            "revision__content_hash",
            "created_at",
            "regrades",
            "latest_status",
            "current_score",
            "current_max_score",
            "current_outcome",
            "current_misconceptions",
            "current_tests",
            "ov_score",
            "ov_reason",
            "current_extra",
        )
        .order_by("created_at", "id")
    )
    buf = io.StringIO()
    w = safe_writer(buf)  # no cell read as a formula (courseapp.csvsafe)
    w.writerow(
        [
            "submission_id",
            "student",
            "exercise",
            "revision",
            "submitted_at",
            "regrades",
            "status",
            "outcome",
            "score",
            "max_score",
            "late",
            "late_factor",
            "adjusted_score",
            "override",
            "override_reason",
            "final_score",
            "failed_checks",
            "misconceptions",
        ]
    )
    for r in rows:
        window = window_lookup(windows, r["revision__exercise_id"], r["user_id"])
        raw = r["current_score"]
        factor = policies.late_factor(window, r["created_at"])
        adjusted = None if raw is None else raw * factor
        final = r["ov_score"] if r["ov_score"] is not None else adjusted
        # A provisional free-text grade waits for review: the machine's proposal is not exported as final.
        pending_review = _provisional(r["current_extra"]) and r["ov_score"] is None
        final = None if pending_review else final
        failed = [t.get("name", "") for t in (r["current_tests"] or []) if t.get("status") != "passed"]
        w.writerow(
            [
                r["id"],
                r["user__username"],
                r["revision__exercise__slug"],
                r["revision__content_hash"][:12],
                r["created_at"].isoformat(),
                r["regrades"],
                r["latest_status"] or "",
                "pending review" if pending_review else r["current_outcome"] or "",
                _fmt(raw),
                _fmt(r["current_max_score"]),
                "yes" if policies.is_late(window, r["created_at"]) else "no",
                _fmt(factor),
                _fmt(adjusted),
                _fmt(r["ov_score"]),
                r["ov_reason"] or "",
                _fmt(final),
                "; ".join(failed),
                "; ".join(r["current_misconceptions"] or []),
            ]
        )
    return buf.getvalue()

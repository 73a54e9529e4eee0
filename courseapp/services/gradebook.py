"""Grades as the course counts them: raw result x late factor, instructor overrides on top, and the
gradebook CSVs (Canvas-style import layout, and every submission).

Per submission: `adjusted` = raw score x late factor (time = when the student submitted; a regrade
copy keeps its original's time); `final` = the newest override's score if there is one, else `adjusted`.
Per student and exercise: `best` = highest adjusted score, `latest` = adjusted score of the newest
attempt, `final` = the newest override on any of the student's submissions of the exercise if there
is one, else `best`. A regraded submission counts through its newest regrade copy (the old result
stays in the database, it just no longer counts).

Everything here is a fixed number of queries, whatever the number of students and submissions.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from courseapp.csvsafe import safe_writer
from courseapp.models import Enrolment, Exercise, Extension, ExercisePolicy, GradeOverride, Submission
from courseapp.services import policies


@dataclass
class Attempt:
    submission_id: int
    user_id: int
    exercise_id: int
    at: datetime
    root_id: int
    status: str  # job status
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


def windows_for_course(course) -> dict[tuple[int, int | None], policies.Window]:
    """{(exercise_id, None): course window, (exercise_id, user_id): extended window} (2 queries)."""
    pols = {p.exercise_id: p for p in ExercisePolicy.objects.filter(exercise__course=course)}
    out: dict = {(eid, None): policies.window_from(p) for eid, p in pols.items()}
    for ext in Extension.objects.filter(exercise__course=course):
        out[(ext.exercise_id, ext.user_id)] = policies.window_from(pols.get(ext.exercise_id), ext)
    return out


def window_lookup(windows, exercise_id: int, user_id: int) -> policies.Window:
    return windows.get((exercise_id, user_id)) or windows.get((exercise_id, None)) or policies.DEFAULT


def attempts_for_course(course, *, exercise_ids=None, user_ids=None, windows=None) -> list[Attempt]:
    """Every counting attempt of the course's students (regraded originals replaced by their newest
    copy), oldest first. 1 query (+2 for the windows when not given)."""
    windows = windows if windows is not None else windows_for_course(course)
    # the newest override per submission, in one query (few rows) instead of a subquery per submission
    overrides: dict[int, tuple] = {}
    for sid, score, at, comment in (GradeOverride.objects.filter(submission__revision__exercise__course=course)
                                    .order_by("created_at", "id").values_list("submission_id", "score", "created_at", "comment")):
        overrides[sid] = (score, at, comment)
    qs = Submission.objects.filter(revision__exercise__course=course)
    if exercise_ids is not None:
        qs = qs.filter(revision__exercise_id__in=exercise_ids)
    if user_ids is not None:
        qs = qs.filter(user_id__in=user_ids)
    rows = (
        qs.annotate(
            exercise_id=F("revision__exercise_id"),
            root_id=Coalesce("regrade_item__original_id", "id"),
            root_at=Coalesce("regrade_item__original__created_at", "created_at"),
        )
        .values("id", "user_id", "exercise_id", "root_id", "root_at", "job__status", "job__result__score",
                "job__result__max_score", "revision__max_score", "job__result__extra__provisional")
        .order_by("root_at", "id")
    )
    groups: dict[int, list[dict]] = {}
    for r in rows:
        r["ov_score"], r["ov_at"], r["ov_comment"] = overrides.get(r["id"], (None, None, ""))
        groups.setdefault(r["root_id"], []).append(r)
    by_root: dict[int, dict] = {}
    for root_id, group in groups.items():
        graded = [r for r in group if r["job__result__score"] is not None]
        chosen = max(graded or group, key=lambda r: r["id"])
        overridden = [r for r in group if r["ov_score"] is not None]
        if overridden:
            o = max(overridden, key=lambda r: r["ov_at"])
            chosen = {**chosen, "ov_score": o["ov_score"], "ov_at": o["ov_at"], "ov_comment": o["ov_comment"]}
        by_root[root_id] = chosen
    out = []
    for r in sorted(by_root.values(), key=lambda r: (r["root_at"], r["root_id"])):
        window = window_lookup(windows, r["exercise_id"], r["user_id"])
        out.append(Attempt(
            submission_id=r["id"], user_id=r["user_id"], exercise_id=r["exercise_id"], at=r["root_at"],
            root_id=r["root_id"], status=r["job__status"] or "", raw=r["job__result__score"],
            max_score=r["job__result__max_score"] or r["revision__max_score"],
            factor=policies.late_factor(window, r["root_at"]), late=policies.is_late(window, r["root_at"]),
            override=r["ov_score"], override_at=r["ov_at"], comment=r["ov_comment"] or "",
            provisional=r["job__result__extra__provisional"] is True and r["ov_score"] is None,
        ))
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


def course_students(course):
    return (get_user_model().objects.filter(enrolments__course=course, enrolments__role=Enrolment.Role.STUDENT)
            .order_by("last_name", "first_name", "username"))


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.2f}".rstrip("0").rstrip(".")


def gradebook_csv(course, mode: str = "final") -> str:
    """Canvas-style gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, one column per
    exercise, a 'Points Possible' row first. `mode` is best, latest or final."""
    if mode not in ("best", "latest", "final"):
        raise ValueError(mode)
    exercises = list(Exercise.objects.filter(course=course, current_revision__isnull=False)
                     .select_related("current_revision").order_by("order", "slug"))
    students = list(course_students(course))
    grid = cells(attempts_for_course(course))
    buf = io.StringIO()
    w = safe_writer(buf)  # no cell read as a formula (courseapp.csvsafe)
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
               + [f"{e.title} ({e.pk})" for e in exercises])
    w.writerow(["    Points Possible", "", "", "", ""] + [_fmt(e.current_revision.max_score) for e in exercises])
    for s in students:
        name = f"{s.last_name}, {s.first_name}" if s.last_name else (s.get_full_name() or s.username)
        row = [name, s.pk, s.username, s.email or s.username, course.title]
        for e in exercises:
            c = grid.get((s.pk, e.pk))
            row.append(_fmt(getattr(c, mode)) if c else "")
        w.writerow(row)
    return buf.getvalue()


def submissions_csv(course) -> str:
    """Every submission of the course (regrade copies included, marked), one row each."""
    windows = windows_for_course(course)
    newest_override = GradeOverride.objects.filter(submission=OuterRef("pk")).order_by("-created_at", "-id")
    rows = (
        Submission.objects.filter(revision__exercise__course=course)
        .annotate(root_at=Coalesce("regrade_item__original__created_at", "created_at"),
                  ov_score=Subquery(newest_override.values("score")[:1]),
                  ov_reason=Subquery(newest_override.values("reason")[:1]))
        .values("id", "user_id", "user__username", "revision__exercise_id", "revision__exercise__slug",
                "revision__content_hash", "created_at", "root_at", "regrade_item__original_id",
                "job__status", "job__result__score", "job__result__max_score", "job__result__outcome",
                "job__result__misconceptions", "job__result__tests", "ov_score", "ov_reason",
                "job__result__extra__provisional")
        .order_by("created_at", "id")
    )
    buf = io.StringIO()
    w = safe_writer(buf)  # no cell read as a formula (courseapp.csvsafe)
    w.writerow(["submission_id", "student", "exercise", "revision", "submitted_at", "regrade_of", "status",
                "outcome", "score", "max_score", "late", "late_factor", "adjusted_score", "override",
                "override_reason", "final_score", "failed_checks", "misconceptions"])
    for r in rows:
        window = window_lookup(windows, r["revision__exercise_id"], r["user_id"])
        raw = r["job__result__score"]
        factor = policies.late_factor(window, r["root_at"])
        adjusted = None if raw is None else raw * factor
        final = r["ov_score"] if r["ov_score"] is not None else adjusted
        # A provisional free-text grade waits for review: the machine's proposal is not exported as final.
        pending_review = r["job__result__extra__provisional"] is True and r["ov_score"] is None
        final = None if pending_review else final
        failed = [t.get("name", "") for t in (r["job__result__tests"] or []) if t.get("status") != "passed"]
        w.writerow([r["id"], r["user__username"], r["revision__exercise__slug"], r["revision__content_hash"][:12],
                    r["created_at"].isoformat(), r["regrade_item__original_id"] or "", r["job__status"] or "",
                    "pending review" if pending_review else r["job__result__outcome"] or "", _fmt(raw), _fmt(r["job__result__max_score"]),
                    "yes" if policies.is_late(window, r["root_at"]) else "no", _fmt(factor), _fmt(adjusted),
                    _fmt(r["ov_score"]), r["ov_reason"] or "", _fmt(final), "; ".join(failed),
                    "; ".join(r["job__result__misconceptions"] or [])])
    return buf.getvalue()

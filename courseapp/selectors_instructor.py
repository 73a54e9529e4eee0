"""Reads for the instructor pages. Every function is a fixed number of queries (no N+1), whatever
the number of students and submissions; tests pin the counts."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, User
from django.core.paginator import Paginator
from django.core.paginator import Page
from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import QueryDict
from django.db.models.functions import TruncDate
from django.http import Http404

from courseapp.models import Course, Enrolment, Exercise, GradeOverride, GradingJob, Regrade, Result, Submission
from courseapp import selectors_gradebook as gradebook


def courses_for_instructor(user: User) -> QuerySet[Course]:
    return Course.objects.filter(enrolments__user=user, enrolments__role=Enrolment.Role.INSTRUCTOR).order_by("title")


def course_for_instructor(user: User | AnonymousUser, slug: str) -> Course:
    """The course, only when `user` teaches it; 404 otherwise (students never learn it exists)."""
    if not isinstance(user, User):  # anonymous: no course to teach
        raise Http404("No such course")
    course = courses_for_instructor(user).filter(slug=slug).first()
    if course is None:
        raise Http404("No such course")
    return course


def exercise_for_course(course: Course, slug: str) -> Exercise:
    ex = Exercise.objects.filter(course=course, slug=slug).select_related("current_revision").first()
    if ex is None:
        raise Http404("No such exercise")
    return ex


def course_exercises(course: Course) -> list[Exercise]:
    return list(
        Exercise.objects.filter(course=course, current_revision__isnull=False)
        .select_related("current_revision")
        .order_by("order", "slug")
    )


def failure_signature(
    tests: list[dict[str, Any]] | None, misconceptions: list[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What makes two wrong submissions 'the same mistake': the sorted failed check names and the
    sorted misconception ids."""
    failed = tuple(sorted({t.get("name", "") for t in (tests or []) if t.get("status") != "passed"}))
    return failed, tuple(sorted(set(misconceptions or [])))


def _histogram(values: list[float], max_score: float, bins: int = 10) -> list[int]:
    counts = [0] * bins
    for v in values:
        i = int((v / max_score) * bins) if max_score else 0
        counts[min(max(i, 0), bins - 1)] += 1
    return counts


_JOIN = """
    FROM courseapp_result r
    JOIN courseapp_gradingjob j ON j.id = r.job_id
    JOIN courseapp_submission s ON s.id = j.submission_id
    JOIN courseapp_exerciserevision v ON v.id = s.revision_id
    JOIN courseapp_exercise e ON e.id = v.exercise_id
    WHERE e.course_id = %s
"""

_CHECKS_SQL = (
    """
SELECT v.exercise_id, t->>'name', COUNT(*) FILTER (WHERE t->>'status' = 'passed'), COUNT(*)
"""
    + _JOIN.replace("WHERE", "CROSS JOIN LATERAL jsonb_array_elements(r.tests) t WHERE")
    + """
GROUP BY 1, 2
"""
)

_CLUSTERS_SQL = (
    """
SELECT exercise_id, failed, mis, COUNT(*), COUNT(DISTINCT user_id) FROM (
  SELECT v.exercise_id, s.user_id,
    COALESCE((SELECT array_agg(DISTINCT t->>'name' ORDER BY t->>'name') FROM jsonb_array_elements(r.tests) t
              WHERE COALESCE(t->>'status', '') <> 'passed'), '{}') AS failed,
    COALESCE((SELECT array_agg(DISTINCT m ORDER BY m) FROM jsonb_array_elements_text(r.misconceptions) m), '{}') AS mis
"""
    + _JOIN
    + """
) x WHERE cardinality(failed) > 0 OR cardinality(mis) > 0
GROUP BY 1, 2, 3
"""
)


def _check_rates_and_clusters(
    course: Course,
) -> tuple[dict[int, dict[str, list[int]]], dict[int, dict[Any, dict[str, int]]]]:
    """({exercise_id: {check: [passed, total]}}, {exercise_id: {signature: {"submissions", "students"}}}),
    aggregated in Postgres (2 queries; the results' JSON never leaves the database); in Python elsewhere."""
    check_counts: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    clusters: dict[int, dict[tuple, dict]] = defaultdict(dict)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(_CHECKS_SQL, [course.pk])
            for ex_id, name, passed, total in cur.fetchall():
                check_counts[ex_id][name or ""] = [passed, total]
            cur.execute(_CLUSTERS_SQL, [course.pk])
            for ex_id, failed, mis, n_subs, n_students in cur.fetchall():
                clusters[ex_id][(tuple(failed), tuple(mis))] = {"submissions": n_subs, "students": n_students}
        return check_counts, clusters
    results = Result.objects.filter(job__submission__revision__exercise__course=course).values_list(
        "job__submission__revision__exercise_id", "job__submission__user_id", "tests", "misconceptions"
    )
    students: dict = defaultdict(set)
    for ex_id, user_id, tests, mis in results:
        for t in tests or []:
            c = check_counts[ex_id][t.get("name", "")]
            c[1] += 1
            c[0] += t.get("status") == "passed"
        sig = failure_signature(tests, mis)
        if sig != ((), ()):
            cl = clusters[ex_id].setdefault(sig, {"submissions": 0, "students": 0})
            cl["submissions"] += 1
            students[(ex_id, sig)].add(user_id)
            cl["students"] = len(students[(ex_id, sig)])
    return check_counts, clusters


def dashboard(course: Course) -> dict:
    """Enrolment, submissions per day, and per exercise: attempts, students attempted / passed, the
    median best score, a histogram of best scores, each check's pass rate and the failure clusters."""
    from courseapp.selectors import misconception_catalogue

    roles = dict(Enrolment.objects.filter(course=course).values_list("role").annotate(n=Count("id")))
    per_day = list(
        Submission.objects.filter(revision__exercise__course=course)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    exercises = course_exercises(course)
    attempts = gradebook.attempts_for_course(course)
    grid = gradebook.cells(attempts)
    check_counts, clusters = _check_rates_and_clusters(course)
    catalogue = misconception_catalogue()
    rows = []
    for ex in exercises:
        mx = ex.current_revision.max_score if ex.current_revision else 0.0
        mine = [c for (u, e), c in grid.items() if e == ex.pk]
        bests = [c.best for c in mine if c.best is not None]
        cl = sorted(clusters[ex.pk].items(), key=lambda kv: (-kv[1]["students"], -kv[1]["submissions"], kv[0]))[:8]
        rows.append(
            {
                "exercise": ex,
                "max_score": mx,
                "attempts": sum(c.attempts for c in mine),
                "attempted": len(mine),
                "passed": sum(1 for v in bests if v >= mx - 1e-9),
                "median": statistics.median(bests) if bests else None,
                "histogram": _histogram(bests, mx),
                "checks": sorted(
                    ((name, p, n, p / n if n else 0) for name, (p, n) in check_counts[ex.pk].items()),
                    key=lambda r: r[3],
                ),
                "clusters": [
                    {
                        "failed": sig[0],
                        "misconceptions": [(m, catalogue[m].title if m in catalogue else m) for m in sig[1]],
                        "students": v["students"],
                        "submissions": v["submissions"],
                    }
                    for sig, v in cl
                ],
            }
        )
    return {
        "students": roles.get(Enrolment.Role.STUDENT, 0),
        "instructors": roles.get(Enrolment.Role.INSTRUCTOR, 0),
        "per_day": per_day,
        "exercises": rows,
        "submissions": sum(r["attempts"] for r in rows),
    }


def submissions_browse(course: Course, params: QueryDict, page: int | str = 1, per_page: int = 50) -> Page[Submission]:
    """The course's submissions filtered by student, exercise, status, score range, misconception and
    failed check (on the result that counts); newest first; one page."""
    newest_override = GradeOverride.objects.filter(submission=OuterRef("pk")).order_by("-created_at", "-id")
    qs = (
        Submission.objects.filter(revision__exercise__course=course)
        .with_grading()
        .select_related("user", "revision__exercise")
        .prefetch_related(Prefetch("jobs", queryset=GradingJob.objects.select_related("result")))
        .annotate(override_score=Subquery(newest_override.values("score")[:1]))
        .order_by("-created_at", "-id")
    )
    student = (params.get("student") or "").strip()
    if student:
        qs = qs.filter(user__username__icontains=student)
    if params.get("exercise"):
        qs = qs.filter(revision__exercise__slug=params["exercise"])
    status = params.get("status") or ""
    if status in ("queued", "running", "failed"):
        qs = qs.filter(latest_status=status)
    elif status == "graded":
        qs = qs.filter(latest_status=GradingJob.Status.DONE)
    elif status == "full":
        qs = qs.filter(latest_status=GradingJob.Status.DONE, current_score__gte=F("current_max_score"))
    elif status == "overridden":
        qs = qs.filter(Exists(GradeOverride.objects.filter(submission=OuterRef("pk"))))
    for key, lookup in (("min_score", "current_score__gte"), ("max_score", "current_score__lte")):
        try:
            value = params.get(key) or ""
            qs = qs.filter(**{lookup: float(value)}) if value else qs
        except ValueError:
            pass
    json_contains = connection.vendor == "postgresql"  # SQLite has no JSON containment: match the text
    current = Result.objects.filter(pk=OuterRef("current_result_id"))
    for mid in params.getlist("misconception"):
        if mid:
            qs = qs.filter(
                Exists(
                    current.filter(misconceptions__contains=[mid])
                    if json_contains
                    else current.filter(misconceptions__icontains=f'"{mid}"')
                )
            )
    for check in params.getlist("failed"):
        if check:
            qs = qs.filter(
                Exists(
                    current.filter(tests__contains=[{"name": check, "status": "failed"}])
                    if json_contains
                    else current.filter(tests__icontains=check)
                )
            )
    return Paginator(qs, per_page).get_page(page)


def submission_for_instructor(course: Course, submission_id: int) -> Submission:
    """One submission of the course with every grading of it (jobs with their results, newest first)."""
    s = (
        Submission.objects.filter(pk=submission_id, revision__exercise__course=course)
        .select_related("user", "revision__exercise")
        .prefetch_related(
            Prefetch(
                "jobs", queryset=GradingJob.objects.select_related("result", "revision", "regrade").order_by("-id")
            )
        )
        .first()
    )
    if s is None:
        raise Http404("No such submission")
    return s


def progress_table(course: Course) -> dict:
    exercises = course_exercises(course)
    students = list(gradebook.course_students(course))
    grid = gradebook.cells(gradebook.attempts_for_course(course))
    rows = []
    for s in students:
        cells = [grid.get((s.pk, e.pk)) for e in exercises]
        total = sum(c.final or 0 for c in cells if c)
        rows.append({"student": s, "cells": cells, "total": total})
    return {
        "exercises": exercises,
        "rows": rows,
        "possible": sum(e.current_revision.max_score for e in exercises if e.current_revision),
    }


def regrades_for_exercise(exercise: Exercise) -> QuerySet[Regrade]:
    return (
        Regrade.objects.filter(exercise=exercise)
        .select_related("revision", "created_by")
        .annotate(
            n=Count("jobs"),
            done=Count("jobs", filter=Q(jobs__status__in=[GradingJob.Status.DONE, GradingJob.Status.FAILED])),
        )
    )


def exercise_has_stale_grades(exercise: Exercise) -> bool:
    """Whether some submission of the exercise was never graded against its current revision."""
    return (
        Submission.objects.filter(revision__exercise=exercise)
        .exclude(jobs__revision_id=exercise.current_revision_id)
        .exists()
    )


@dataclass
class RegradeRow:
    job_id: int
    username: str
    submission_id: int
    old: float | None  # the score that counted before this regrade
    new: float | None
    state: str  # pending | done | failed
    changed: list[tuple[str, str, str]]  # (check, old status, new status)

    @property
    def direction(self) -> str:
        if self.state != "done" or self.old is None or self.new is None:
            return "pending" if self.state != "done" else "unchanged"
        if self.new > self.old + 1e-9:
            return "up"
        if self.new < self.old - 1e-9:
            return "down"
        return "unchanged"


def _check_status(tests: list[dict[str, Any]] | None) -> dict[str, str]:
    return {t.get("name", ""): t.get("status", "") for t in (tests or [])}


def regrade_report(regrade: Regrade) -> dict[str, Any]:
    """Progress and the per-student comparison of each regrade job's result with the result that
    counted before it (the submission's newest earlier result). 2 queries."""
    jobs = list(
        GradingJob.objects.filter(regrade=regrade)
        .select_related("submission__user", "result")
        .order_by("submission__user__username", "submission_id")
    )
    earlier: dict[int, list[tuple[int, float, list[dict[str, Any]]]]] = defaultdict(list)
    for job_id, submission_id, score, tests in (
        Result.objects.filter(job__submission_id__in=[j.submission_id for j in jobs])
        .order_by("job_id")
        .values_list("job_id", "job__submission_id", "score", "tests")
    ):
        earlier[submission_id].append((job_id, score, tests))
    rows = []
    for job in jobs:
        before = [r for r in earlier[job.submission_id] if r[0] < job.pk]
        old = before[-1] if before else None
        new = getattr(job, "result", None) if job.is_finished else None
        state = job.status if job.status in (GradingJob.Status.DONE, GradingJob.Status.FAILED) else "pending"
        old_c, new_c = _check_status(old[2] if old else None), _check_status(new.tests if new else None)
        changed = (
            [
                (name, old_c.get(name, "—"), new_c.get(name, "—"))
                for name in dict.fromkeys([*old_c, *new_c])
                if old_c.get(name) != new_c.get(name)
            ]
            if new
            else []
        )
        rows.append(
            RegradeRow(
                job_id=job.pk,
                username=job.submission.user.get_username(),
                submission_id=job.submission_id,
                old=old[1] if old else None,
                new=new.score if new else None,
                state=state,
                changed=changed,
            )
        )
    counts = {"up": 0, "down": 0, "unchanged": 0, "pending": 0}
    for r in rows:
        counts[r.direction] += 1
    done = sum(1 for r in rows if r.state != "pending")
    return {
        "rows": rows,
        "counts": counts,
        "total": len(rows),
        "finished": done,
        "percent": round(100 * done / len(rows)) if rows else 100,
        "failed": sum(r.state == "failed" for r in rows),
    }


def student_in_course(course: Course, username: str) -> User:
    user = get_user_model().objects.filter(username=username, enrolments__course=course).first()
    if user is None:
        raise Http404("No such student")
    return user

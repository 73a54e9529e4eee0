"""Reads for the instructor pages. Every function is a fixed number of queries (no N+1), whatever
the number of students and submissions; tests pin the counts."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.http import Http404

from courseapp.models import Course, Enrolment, Exercise, GradeOverride, Regrade, Submission
from courseapp.services import gradebook


def courses_for_instructor(user):
    return Course.objects.filter(enrolments__user=user, enrolments__role=Enrolment.Role.INSTRUCTOR).order_by("title")


def course_for_instructor(user, slug: str) -> Course:
    """The course, only when `user` teaches it; 404 otherwise (students never learn it exists)."""
    if not user.is_authenticated:
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
    return list(Exercise.objects.filter(course=course, current_revision__isnull=False)
                .select_related("current_revision").order_by("order", "slug"))


def failure_signature(tests, misconceptions) -> tuple[tuple[str, ...], tuple[str, ...]]:
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

_CHECKS_SQL = """
SELECT v.exercise_id, t->>'name', COUNT(*) FILTER (WHERE t->>'status' = 'passed'), COUNT(*)
""" + _JOIN.replace("WHERE", "CROSS JOIN LATERAL jsonb_array_elements(r.tests) t WHERE") + """
GROUP BY 1, 2
"""

_CLUSTERS_SQL = """
SELECT exercise_id, failed, mis, COUNT(*), COUNT(DISTINCT user_id) FROM (
  SELECT v.exercise_id, s.user_id,
    COALESCE((SELECT array_agg(DISTINCT t->>'name' ORDER BY t->>'name') FROM jsonb_array_elements(r.tests) t
              WHERE COALESCE(t->>'status', '') <> 'passed'), '{}') AS failed,
    COALESCE((SELECT array_agg(DISTINCT m ORDER BY m) FROM jsonb_array_elements_text(r.misconceptions) m), '{}') AS mis
""" + _JOIN + """
) x WHERE cardinality(failed) > 0 OR cardinality(mis) > 0
GROUP BY 1, 2, 3
"""


def _check_rates_and_clusters(course: Course):
    """({exercise_id: {check: [passed, total]}}, {exercise_id: {signature: {"submissions", "students"}}}),
    aggregated in Postgres (2 queries; the results' JSON never leaves the database); in Python elsewhere."""
    from django.db import connection

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
    results = (Submission.objects.filter(revision__exercise__course=course, job__result__isnull=False)
               .values_list("revision__exercise_id", "user_id", "job__result__tests", "job__result__misconceptions"))
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
    per_day = list(Submission.objects.filter(revision__exercise__course=course, regrade_item__isnull=True)
                   .annotate(day=TruncDate("created_at")).values("day").annotate(n=Count("id")).order_by("day"))
    exercises = course_exercises(course)
    attempts = gradebook.attempts_for_course(course)
    grid = gradebook.cells(attempts)
    check_counts, clusters = _check_rates_and_clusters(course)
    catalogue = misconception_catalogue()
    rows = []
    for ex in exercises:
        mx = ex.current_revision.max_score
        mine = [c for (u, e), c in grid.items() if e == ex.pk]
        bests = [c.best for c in mine if c.best is not None]
        cl = sorted(clusters[ex.pk].items(), key=lambda kv: (-kv[1]["students"], -kv[1]["submissions"], kv[0]))[:8]
        rows.append({
            "exercise": ex, "max_score": mx,
            "attempts": sum(c.attempts for c in mine),
            "attempted": len(mine),
            "passed": sum(1 for v in bests if v >= mx - 1e-9),
            "median": statistics.median(bests) if bests else None,
            "histogram": _histogram(bests, mx),
            "checks": sorted(((name, p, n, p / n if n else 0) for name, (p, n) in check_counts[ex.pk].items()),
                             key=lambda r: r[3]),
            "clusters": [{"failed": sig[0], "misconceptions": [(m, catalogue[m].title if m in catalogue else m) for m in sig[1]],
                          "students": v["students"], "submissions": v["submissions"]} for sig, v in cl],
        })
    return {"students": roles.get(Enrolment.Role.STUDENT, 0), "instructors": roles.get(Enrolment.Role.INSTRUCTOR, 0),
            "per_day": per_day, "exercises": rows,
            "submissions": sum(r["attempts"] for r in rows)}


def submissions_browse(course: Course, params, page: int = 1, per_page: int = 50):
    """The course's submissions filtered by student, exercise, status, score range, misconception and
    failed check; newest first; one page."""
    newest_override = GradeOverride.objects.filter(submission=OuterRef("pk")).order_by("-created_at", "-id")
    qs = (Submission.objects.filter(revision__exercise__course=course)
          .select_related("user", "revision__exercise", "job__result")
          .annotate(override_score=Subquery(newest_override.values("score")[:1]))
          .order_by("-created_at", "-id"))
    student = (params.get("student") or "").strip()
    if student:
        qs = qs.filter(user__username__icontains=student)
    if params.get("exercise"):
        qs = qs.filter(revision__exercise__slug=params["exercise"])
    status = params.get("status") or ""
    if status in ("queued", "running", "failed"):
        qs = qs.filter(job__status=status)
    elif status == "graded":
        qs = qs.filter(job__status="done")
    elif status == "full":
        qs = qs.filter(job__status="done", job__result__score__gte=models_F_max())
    elif status == "overridden":
        qs = qs.filter(overrides__isnull=False).distinct()
    for key, lookup in (("min_score", "job__result__score__gte"), ("max_score", "job__result__score__lte")):
        try:
            qs = qs.filter(**{lookup: float(params[key])}) if params.get(key) not in (None, "") else qs
        except ValueError:
            pass
    from django.db import connection

    json_contains = connection.vendor == "postgresql"  # SQLite has no JSON containment: match the text
    for mid in params.getlist("misconception") if hasattr(params, "getlist") else []:
        if mid:
            qs = qs.filter(job__result__misconceptions__contains=[mid]) if json_contains else \
                qs.filter(job__result__misconceptions__icontains=f'"{mid}"')
    for check in params.getlist("failed") if hasattr(params, "getlist") else []:
        if check:
            qs = qs.filter(job__result__tests__contains=[{"name": check, "status": "failed"}]) if json_contains else \
                qs.filter(job__result__tests__icontains=check)
    return Paginator(qs, per_page).get_page(page)


def models_F_max():
    from django.db.models import F
    return F("job__result__max_score")


def submission_for_instructor(course: Course, submission_id: int) -> Submission:
    s = (Submission.objects.filter(pk=submission_id, revision__exercise__course=course)
         .select_related("user", "revision__exercise", "job__result", "regrade_item__regrade").first())
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
    return {"exercises": exercises, "rows": rows,
            "possible": sum(e.current_revision.max_score for e in exercises)}


def regrades_for_exercise(exercise: Exercise):
    return Regrade.objects.filter(exercise=exercise).select_related("revision", "created_by").annotate(
        n=Count("items"), done=Count("items", filter=Q(items__new__job__status__in=["done", "failed"])))


def student_in_course(course: Course, username: str):
    user = get_user_model().objects.filter(username=username, enrolments__course=course).first()
    if user is None:
        raise Http404("No such student")
    return user

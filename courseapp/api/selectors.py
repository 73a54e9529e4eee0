"""Reads of the API app: what the caller may see, in the shapes the API returns.

A submission's result is returned in the results-JSON shape `python -m grader grade --json` prints
(contracts.md §2). Students get it through the same visibility rules as the web page
(courseapp.selectors.result_feedback, and quiz.quiz_feedback for quizzes): a hidden check keeps its
name, score and status but not its diagnostic output until the policy reveals it. Course staff see
the result whole.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from courseapp import quiz, selectors
from courseapp.models import Course, Enrolment, Exercise, GradingJob, Submission
from courseapp import policies
from courseapp.sanitize import STUDENT_ERROR_RESULT_MESSAGE, STUDENT_FAILED_MESSAGE
from grader.notebook import graded_cells_note


def enrolments_for(user) -> QuerySet[Enrolment]:
    return Enrolment.objects.filter(user=user).select_related("course").order_by("course__title")


def exercises_for(user, *, course_slug: str = "", slug: str = "") -> QuerySet[Exercise]:
    """The exercises (with a current revision) of the courses the user is enrolled in."""
    qs = (
        Exercise.objects.filter(course__enrolments__user=user, current_revision__isnull=False)
        .select_related("course", "current_revision")
        .order_by("course__title", "order", "slug")
    )
    if course_slug:
        qs = qs.filter(course__slug=course_slug)
    if slug:
        qs = qs.filter(slug=slug)
    return qs


def exercise_for(user, exercise_id: int) -> Exercise:
    exercise = exercises_for(user).filter(pk=exercise_id).first()
    if exercise is None:
        raise Http404("No such exercise")
    return exercise


def is_staff_of(user, course_id: int) -> bool:
    return Enrolment.objects.filter(user=user, course_id=course_id, role=Enrolment.Role.INSTRUCTOR).exists()


def course_for_staff(user, course_slug: str) -> Course:
    course = Course.objects.filter(
        slug=course_slug, enrolments__user=user, enrolments__role=Enrolment.Role.INSTRUCTOR
    ).first()
    if course is None:
        raise Http404("No such course")
    return course


def submission_for(user, submission_id: int) -> tuple[Submission, bool]:
    """A submission the caller may read: their own, or any in a course they teach; and whether
    they read it as staff. 404 otherwise (others' work is not even confirmed to exist)."""
    teaches = Enrolment.objects.filter(user=user, role=Enrolment.Role.INSTRUCTOR).values("course_id")
    submission = (
        Submission.objects.filter(Q(user=user) | Q(revision__exercise__course_id__in=teaches), pk=submission_id)
        .select_related("user", "revision__exercise__course")
        .prefetch_related(Prefetch("jobs", queryset=GradingJob.objects.select_related("result")))
        .first()
    )
    if submission is None:
        raise Http404("No such submission")
    staff = is_staff_of(user, submission.revision.exercise.course_id)
    return submission, staff


def _with_note(output: str, source: str) -> str:
    note = graded_cells_note(source)
    return f"{note}\n{output}".strip() if note else output


def result_json(submission: Submission, *, as_staff: bool) -> dict[str, Any] | None:
    """The result in the CLI's results-JSON shape, as the caller may see it; None until graded."""
    result = submission.current_result
    if result is None:
        return None
    extra = result.extra if isinstance(result.extra, dict) else {}
    out: dict[str, Any] = {
        "score": result.score,
        "max_score": result.max_score,
        "status": result.status,
        # an error result's output names host paths and exceptions: staff only (courseapp.sanitize)
        "output": _with_note(
            result.output if as_staff or result.status != "error" else STUDENT_ERROR_RESULT_MESSAGE, submission.source
        ),
        "misconceptions": list(result.misconceptions),
        "execution": dict(result.execution),
    }
    out.update({k: extra[k] for k in ("confidence", "provisional") if k in extra})
    if as_staff:
        out["tests"] = [dict(t) for t in result.tests]
        return out
    exercise = submission.revision.exercise
    window = policies.window_for(exercise, submission.user)
    now = timezone.now()
    is_quiz = exercise.kind == Exercise.Kind.QUIZ
    labels = quiz.quiz_labels(result.job.revision) if is_quiz else None
    feedback = selectors.result_feedback(result, labels, reveal_hidden=policies.reveal_hidden(window, now))
    if is_quiz:
        feedback = quiz.quiz_feedback(feedback, result, quiz.answers_revealed(exercise, submission.user, window, now))
    # result_feedback groups the checks failed/passed, each group in the result's order: walk the
    # result's checks and take each one's student-facing item from its group.
    groups = {"failed": iter(feedback["failed"]), "passed": iter(feedback["passed"])}
    tests = []
    for test in result.tests:
        status = "passed" if test.get("status") == "passed" else "failed"
        item = next(groups[status])
        tests.append(
            {
                "name": item["name"],
                "score": item["score"],
                "max_score": item["max_score"],
                "status": status,
                "output": item["output"],
                "visibility": test.get("visibility", "hidden"),
                "misconceptions": [m["id"] for m in item["misconceptions"]],
            }
        )
    out["tests"] = tests
    out["misconceptions"] = [m["id"] for m in feedback["misconceptions"]]
    return out


def submission_json(submission: Submission, *, as_staff: bool) -> dict[str, Any]:
    """Status and (once graded) result of one submission."""
    job = submission.latest_job
    if job is None:  # services.submission_create makes every submission with its first job
        raise ValueError(f"submission {submission.pk} has no grading job")
    exercise = submission.revision.exercise
    override = submission.overrides.first()
    return {
        "id": submission.pk,
        "exercise": {"id": exercise.pk, "slug": exercise.slug, "course": exercise.course.slug},
        "user": submission.user.get_username(),
        "created_at": submission.created_at,
        "state": selectors.job_state(job),
        "finished": job.is_finished,
        "attempts": job.attempts,
        "progress": selectors.progress_text(job) if not job.is_finished else "",
        "error": (job.error if as_staff else STUDENT_FAILED_MESSAGE) if job.status == job.Status.FAILED else "",
        "graded_cells": graded_cells_note(submission.source),
        "result": result_json(submission, as_staff=as_staff),
        "override": ({"score": override.score, "comment": override.comment} if override else None),
    }

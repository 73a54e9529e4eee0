"""HTTP edge: parse the request, call a selector or service, render. No business logic here."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, QueryDict, HttpResponse, HttpResponseNotModified, JsonResponse
from django.utils import timezone
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from courseapp import charts, idempotency, policies, quiz, selectors, services
from courseapp.forms import SubmissionForm
from courseapp.models import Exercise, Submission
from courseapp.rendering import render_markdown
from courseapp.services import fairness
from grader.notebook import graded_cells_note


class AuthenticatedRequest(HttpRequest):
    """What a @login_required view receives: `user` is a signed-in user, never AnonymousUser."""

    user: User


@login_required
@require_GET
def exercise_list(request: AuthenticatedRequest) -> HttpResponse:
    exercises = list(selectors.exercise_list_for_user(request.user))
    several_courses = len({e.course_id for e in exercises}) > 1  # then each row names its course
    return render(request, "courseapp/exercise_list.html", {"exercises": exercises, "several_courses": several_courses})


@login_required
@require_GET
def course_exercise_list(request: AuthenticatedRequest, course: str) -> HttpResponse:
    """The exercises of one of the user's courses (404 when not enrolled in it)."""
    if not request.user.enrolments.filter(course__slug=course).exists():
        raise Http404("No such course")
    exercises = list(selectors.exercise_list_for_user(request.user).filter(course__slug=course))
    return render(request, "courseapp/exercise_list.html", {"exercises": exercises, "several_courses": False})


# The history lists the newest submissions; "Show all" (?history=all) lists every one.
HISTORY_SHOWN = 20


def _exercise_page(
    request: AuthenticatedRequest,
    exercise: Exercise,
    form: SubmissionForm,
    selected: Submission | None,
    status: int = 200,
) -> HttpResponse:
    revision = exercise.current_revision
    if revision is None:  # the selectors only return exercises open for submissions
        raise Http404("No such exercise")
    history = selectors.submission_list_for_user(request.user, exercise)
    show_all = request.GET.get("history") == "all"
    submissions = list(history if show_all else history[: HISTORY_SHOWN + 1])
    history_more = not show_all and len(submissions) > HISTORY_SHOWN
    if history_more:  # the counts need every submission: ask the database
        submissions = submissions[:HISTORY_SHOWN]
        used, _ = policies.attempt_usage(exercise, request.user)
        busy = fairness.in_flight(request.user, exercise)
    else:  # the history holds them all, with their jobs: count there (two queries fewer)
        used, _ = policies.attempt_usage_of(submissions)
        busy = fairness.in_flight_of(submissions)
    policy = policies.policy_for(exercise, as_loaded=True)  # once, for the window and the queue limits
    window = policies.window_for_policy(policy, exercise, request.user)
    is_quiz = exercise.kind == Exercise.Kind.QUIZ
    context = {
        "is_quiz": is_quiz,
        "quiz_items": _quiz_items(request.user, exercise, form) if is_quiz else None,
        "quiz_attempt": quiz.quiz_attempt_number(request.user, exercise) if is_quiz else None,
        "submit_token": idempotency.new_token(),
        "exercise": exercise,
        "revision": revision,
        "prompt_html": render_markdown(revision.prompt),
        "form": form,
        "is_code": exercise.kind == Exercise.Kind.MODULE,
        "selected": selected,
        "selected_state": _state(selected) if selected else None,
        "feedback": _feedback_context(selected, window) if selected else None,
        "window": window,
        "attempts_used": used,
        "attempts_left": policies.attempts_left(window, used),
        "queue_limits": fairness.queue_limits_for_policy(exercise, policy),
        "in_flight": busy,
        "now": timezone.now(),
        "submissions": [(s, _state(s), s.current_result) for s in submissions],
        "history_more": history_more,
    }
    return render(request, "courseapp/exercise_detail.html", context, status=status)


def _quiz_items(user, exercise: Exercise, form: SubmissionForm) -> list[dict]:
    """The quiz's questions of this student's next attempt, with the answers of the form's source
    ticked (numbers typed for another attempt's generated questions are left out)."""
    attempt = quiz.quiz_attempt_number(user, exercise)
    answers = quiz.quiz_answers(form["source"].value() or "", exercise, quiz.quiz_seed(user, exercise, attempt))
    items = []
    for q in quiz.quiz_questions(user, exercise, attempt):
        given = answers.get(q.id)
        picked = {str(x) for x in given} if isinstance(given, list) else {str(given)}
        items.append(
            {
                "id": q.id,
                "name": f"q-{q.id}",
                "type": q.type,
                "prompt": q.prompt,
                "points": q.points,
                "choices": [(str(i), text, str(i) in picked) for i, text in enumerate(q.choices)],
                "value": "" if given is None or isinstance(given, list) else str(given),
            }
        )
    return items


def _state(submission: Submission) -> str:
    job = submission.latest_job
    return selectors.job_state(job) if job is not None else ""


def _feedback_context(submission: Submission, window: policies.Window | None = None) -> dict[str, Any]:
    job = submission.latest_job
    wait = selectors.queue_wait(job) if job is not None else None
    if window is None:
        window = policies.window_for(submission.revision.exercise, submission.user)
    result = submission.current_result
    factor = policies.late_factor(window, submission.created_at)
    labels = None
    if result is not None and submission.revision.exercise.kind == Exercise.Kind.QUIZ:
        labels = quiz.quiz_labels(result.job.revision)
    feedback = (
        selectors.result_feedback(result, labels, reveal_hidden=policies.reveal_hidden(window, timezone.now()))
        if result
        else None
    )
    if labels is not None and feedback is not None:  # a quiz: right/wrong only until the answers are revealed
        feedback = quiz.quiz_feedback(
            feedback,
            result,
            quiz.answers_revealed(submission.revision.exercise, submission.user, window, timezone.now()),
        )
    return {
        "submission": submission,
        "job": job,
        "state": _state(submission),
        "result": result,
        "feedback": feedback,
        "override": submission.overrides.first(),
        "late_factor": factor,
        "counted": result.score * factor if result else None,
        "curves_svg": charts.training_curves_svg(result.extra) if result else "",
        "progress": selectors.progress_text(job) if job is not None else "",
        "wait": wait,
        "poll_after_ms": selectors.poll_after_ms(wait),
        "graded_cells": graded_cells_note(submission.source),  # a notebook: which cells were graded
    }


@login_required
@require_http_methods(["GET", "POST"])
def exercise_detail(request: AuthenticatedRequest, slug: str) -> HttpResponse:
    """The old, course-less URL. Unambiguous for this user: a GET redirects to the course's page and a
    POST (old forms, scripts) is taken here; the slug in several of the user's courses: a choice."""
    matches = selectors.exercises_for_user_by_slug(request.user, slug)
    if not matches:
        raise Http404("No such exercise")
    if len(matches) > 1:
        return render(request, "courseapp/exercise_choose.html", {"exercises": matches, "slug": slug}, status=300)
    if request.method == "GET":
        return redirect("course-exercise", course=matches[0].course.slug, slug=slug)
    return _exercise_detail(request, matches[0])


@login_required
@require_http_methods(["GET", "POST"])
def course_exercise(request: AuthenticatedRequest, course: str, slug: str) -> HttpResponse:
    return _exercise_detail(request, selectors.exercise_get_for_user_in_course(request.user, course, slug))


@login_required
@require_GET
def exercise_by_id(request: AuthenticatedRequest, exercise_id: int) -> HttpResponse:
    exercise = selectors.exercise_get_for_user_by_pk(request.user, exercise_id)
    return redirect("course-exercise", course=exercise.course.slug, slug=exercise.slug)


def _upload_source(request: AuthenticatedRequest, exercise: Exercise) -> str | None:
    """The source of an uploaded .py or .ipynb file (a notebook reduced to its defining cells), or None
    when no file came; ValidationError with the student's message when the file cannot be used."""
    from courseapp.services.uploads import read_upload, source_from_upload

    upload = request.FILES.get("upload")
    if upload is None:
        return None
    return source_from_upload(exercise, upload.name or "", read_upload(upload))


def _exercise_detail(request: AuthenticatedRequest, exercise: Exercise) -> HttpResponse:
    if request.method == "POST" and "upload" in request.FILES:
        token = request.POST.get(idempotency.FIELD, "")
        if (earlier := idempotency.submission_for_token(request.user, token)) is not None:
            return redirect("submission-detail", submission_id=earlier.pk)  # the same upload sent again
        form = SubmissionForm({"source": exercise.current_revision.starter if exercise.current_revision else ""})
        form.is_valid()
        try:
            source = _upload_source(request, exercise) or ""
            submission = services.submission_create(user=request.user, exercise=exercise, source=source, token=token)
        except ValidationError as exc:
            form.add_error("source", exc)
            return _exercise_page(request, exercise, form, None, status=400)
        return redirect("submission-detail", submission_id=submission.pk)
    if request.method == "POST":
        token = request.POST.get(idempotency.FIELD, "")
        if (earlier := idempotency.submission_for_token(request.user, token)) is not None:
            return redirect("submission-detail", submission_id=earlier.pk)  # the same form sent again
        data: QueryDict | dict[str, str] = request.POST
        stale = None
        if exercise.kind == Exercise.Kind.QUIZ:  # the answers become one JSON submission
            try:
                data = {"source": quiz.quiz_source(request.user, exercise, request.POST)}
            except ValidationError as exc:
                data, stale = {"source": ""}, exc
        form = SubmissionForm(data)
        if stale is not None:
            form.is_valid()
            form.errors["source"] = form.error_class(stale.messages)
        elif form.is_valid():
            try:
                submission = services.submission_create(
                    user=request.user, exercise=exercise, source=form.cleaned_data["source"], token=token
                )
            except ValidationError as exc:
                form.add_error("source", exc)
            else:
                return redirect("submission-detail", submission_id=submission.pk)
        return _exercise_page(request, exercise, form, None, status=400)
    form = SubmissionForm(initial={"source": exercise.current_revision.starter if exercise.current_revision else ""})
    return _exercise_page(request, exercise, form, None)


@login_required
@require_GET
def submission_detail(request: AuthenticatedRequest, submission_id: int) -> HttpResponse:
    submission = selectors.submission_page_get_for_user(request.user, submission_id)
    exercise = submission.revision.exercise
    form = SubmissionForm(initial={"source": submission.source})
    return _exercise_page(request, exercise, form, submission)


def _status_etag(fingerprint: tuple) -> str:
    raw = json.dumps(list(fingerprint), sort_keys=True, default=str)
    return '"%s"' % hashlib.sha256(raw.encode()).hexdigest()[:24]


@never_cache
@login_required
@require_GET
def submission_status(request: AuthenticatedRequest, submission_id: int) -> HttpResponse:
    """The live status, polled by the page. Answers 304 (one light query) while nothing changed
    since the ETag the poller sent in If-None-Match."""
    fingerprint = selectors.job_status_fingerprint(request.user, submission_id)
    if fingerprint is None:
        raise Http404("No such submission")
    etag = _status_etag(fingerprint)
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        not_modified = HttpResponseNotModified()
        not_modified["ETag"] = etag
        return not_modified
    response = _submission_status_full(request, submission_id)
    response["ETag"] = etag
    return response


def _submission_status_full(request: AuthenticatedRequest, submission_id: int) -> JsonResponse:
    submission = selectors.submission_get_for_user(request.user, submission_id)
    job = submission.latest_job
    if job is None:
        raise Http404("No such submission")
    result = submission.current_result
    wait = selectors.queue_wait(job)
    return JsonResponse(
        {
            "submission": submission.pk,
            "state": selectors.job_state(job),
            "finished": job.is_finished,
            "attempts": job.attempts,
            "progress": selectors.progress_text(job) if not job.is_finished else "",
            "queue_ahead": wait.ahead if wait else None,
            "eta_s": round(wait.eta_s, 1) if wait and wait.eta_s is not None else None,
            "poll_after_ms": selectors.poll_after_ms(wait),
            "score": result.score if result else None,
            "max_score": result.max_score if result else submission.revision.max_score,
            "feedback_url": reverse("submission-feedback", args=[submission.pk]),
        }
    )


@never_cache
@login_required
@require_GET
def submission_feedback(request: AuthenticatedRequest, submission_id: int) -> HttpResponse:
    submission = selectors.submission_get_for_user(request.user, submission_id)
    return render(request, "courseapp/_feedback.html", _feedback_context(submission))

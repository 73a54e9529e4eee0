"""Instructor pages of the free-text review queue. Every view resolves the course through
course_for_instructor (404 for anyone who does not teach it) and the exercise inside it."""

from __future__ import annotations

import base64
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from courseapp import selectors_instructor as sel
from courseapp.models import Course, Exercise
from courseapp.review import services
from courseapp.review.models import Band, Calibration, Exemplar


def _exercise(course: Course, slug: str) -> Exercise:
    return get_object_or_404(Exercise, course=course, slug=slug, kind="freetext")


def _agreement(exercise: Exercise) -> tuple[str, dict | None]:
    """The exercise's agreement plot and figures (bench/freetext_agreement.py writes them into the
    exercise folder, so they travel with the revision)."""
    files = exercise.current_revision.files if exercise.current_revision else {}
    svg = files.get("agreement.svg", "")
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii") if svg else ""
    try:
        data = json.loads(files["agreement.json"]) if "agreement.json" in files else None
    except ValueError:
        data = None
    return uri, data


@login_required
@require_GET
def queue(request: HttpRequest, course: str, slug: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    exercise = _exercise(c, slug)
    groups = services.review_groups(exercise)
    plot, agreement = _agreement(exercise)
    held = (agreement or {}).get("heldback", {}).get("teacher_labels", {}).get("0", {}).get("at_threshold")
    decided = (
        Exemplar.objects.filter(revision__exercise=exercise, submission__isnull=False)
        .select_related("submission__user")
        .order_by("-decided_at")[:20]
    )
    return render(
        request,
        "review/queue.html",
        {
            "course": c,
            "exercise": exercise,
            "groups": groups,
            "pending": sum(g.size for g in groups),
            "bands": Band.choices,
            "max_score": exercise.current_revision.max_score if exercise.current_revision else 0,
            "decided": decided,
            "settings": services.settings_for(exercise),
            "plot": plot,
            "heldback": held,
            "exemplars": Exemplar.objects.filter(revision=exercise.current_revision).count(),
            "threshold": _threshold(exercise),
            "calibrations": Calibration.objects.filter(revision=exercise.current_revision).select_related("created_by")[
                :10
            ],
        },
    )


def _threshold(exercise: Exercise) -> tuple[float | None, str]:
    """The confidence threshold in force for the current revision, and where it comes from."""
    revision = exercise.current_revision
    if revision is None:
        return None, ""
    in_use = services.threshold_in_use(revision)
    if in_use is not None:
        return in_use, "recalibrated from the teacher's labels"
    try:
        return services.spec_threshold(services.grader_spec(revision)), "the exercise's own"
    except Exception:  # noqa: BLE001 - a page must render even if the exercise folder cannot be read
        return None, "the exercise's own"


@login_required
@require_GET
def regrade_report(request: HttpRequest, course: str, slug: str) -> HttpResponse:
    """Dry run: which machine-graded answers the exemplars and threshold as they are now would grade
    differently (nothing is stored), with a button to regrade them."""
    c = sel.course_for_instructor(request.user, course)
    exercise = _exercise(c, slug)
    report = services.regrade_report(exercise)
    return render(
        request,
        "review/regrade.html",
        {
            "course": c,
            "exercise": exercise,
            "report": report,
            "max_score": exercise.current_revision.max_score if exercise.current_revision else 0,
        },
    )


@login_required
@require_POST
def regrade_apply(request: HttpRequest, course: str, slug: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    exercise = _exercise(c, slug)
    ids = request.POST.getlist("submission")
    try:
        regrade = services.apply_regrade_report(
            actor=request.user, exercise=exercise, submission_ids=[int(i) for i in ids] if ids else None
        )
    except ValueError:
        messages.error(request, "Choose answers from the report.")
        return redirect("review-regrade", course=c.slug, slug=exercise.slug)
    if regrade is None:
        messages.info(request, "Nothing to regrade: the exemplars change none of the selected grades.")
    else:
        messages.success(
            request, f"Regrading {regrade.jobs.count()} answer(s) with the current exemplars (regrade #{regrade.pk})."
        )
    return redirect("review-regrade", course=c.slug, slug=exercise.slug)


@login_required
@require_POST
def decide(request: HttpRequest, course: str, slug: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    exercise = _exercise(c, slug)
    raw_score = (request.POST.get("score") or "").strip()
    try:
        score = float(raw_score) if raw_score else None
        done = services.review_decide(
            actor=request.user,
            exercise=exercise,
            submission_ids=request.POST.getlist("submission"),
            band=request.POST.get("band", ""),
            score=score,
            comment=request.POST.get("comment", ""),
        )
    except (ValueError, ValidationError) as exc:
        text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else "The score must be a number."
        messages.error(request, text)
        return redirect("review-queue", course=c.slug, slug=exercise.slug)
    messages.success(request, f"Graded {len(done)} answer(s); the grader learns from this decision.")
    return redirect("review-queue", course=c.slug, slug=exercise.slug)


@login_required
@require_POST
def settings(request: HttpRequest, course: str, slug: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    exercise = _exercise(c, slug)
    rs = services.settings_for(exercise)
    rs.release_at_due = request.POST.get("release_at_due") == "on"
    rs.save(update_fields=["release_at_due"])
    messages.success(request, "Review settings saved.")
    return redirect("review-queue", course=c.slug, slug=exercise.slug)

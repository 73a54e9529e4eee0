"""Instructor pages of the free-text review queue. Every view resolves the course through
course_for_instructor (404 for anyone who does not teach it) and the exercise inside it."""

from __future__ import annotations

import base64
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from courseapp import selectors_instructor as sel
from courseapp.models import Course, Exercise
from courseapp.review import services
from courseapp.review.models import Band, Calibration, Exemplar, JobStatus, RegradeReport


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
            **_calibration_context(exercise),
            "report": services.latest_report(exercise),
        },
    )


def _calibration_context(exercise: Exercise) -> dict:
    return {
        "threshold": _threshold(exercise),
        "calibrations": Calibration.objects.filter(revision=exercise.current_revision).select_related("created_by")[
            :10
        ],
        "recalibrating": services.calibration_pending(exercise.current_revision),
    }


@login_required
@require_GET
def calibration(request: HttpRequest, course: str, slug: str) -> HttpResponse:
    """The threshold in use and the calibration history, as the fragment the review page polls while a
    recalibration is pending."""
    c = sel.course_for_instructor(request.user, course)
    exercise = _exercise(c, slug)
    response = render(
        request, "review/_calibration.html", {"course": c, "exercise": exercise, **_calibration_context(exercise)}
    )
    response["Cache-Control"] = "no-store"
    return response


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


REPORT_PAGE_SIZE = 50


@login_required
@require_GET
def regrade_report(request: HttpRequest, course: str, slug: str) -> HttpResponse:
    """The newest regrade report of the exercise (computed by a Celery task): its progress while it
    runs (the page refreshes itself), then the answers it would change, a page at a time, with buttons
    to regrade them; stale when the exemplars or the threshold changed since."""
    c = sel.course_for_instructor(request.user, course)
    exercise = _exercise(c, slug)
    report = services.latest_report(exercise)
    page, to_regrade = None, 0
    if report is not None and report.status == JobStatus.DONE:
        changes = report.changes.select_related("submission__user").order_by("submission_id")
        page = Paginator(changes, REPORT_PAGE_SIZE).get_page(request.GET.get("page"))
        to_regrade = report.changes.filter(regrade__isnull=True).count()
    return render(
        request,
        "review/regrade.html",
        {
            "course": c,
            "exercise": exercise,
            "report": report,
            "page": page,
            "stale": report is not None and services.report_is_stale(report),
            "pending_to_regrade": to_regrade,
            "max_score": exercise.current_revision.max_score if exercise.current_revision else 0,
        },
    )


@login_required
@require_POST
def regrade_run(request: HttpRequest, course: str, slug: str) -> HttpResponse:
    """Ask for a new regrade report (the work is a Celery task; this returns at once)."""
    c = sel.course_for_instructor(request.user, course)
    exercise = _exercise(c, slug)
    try:
        services.regrade_report_request(exercise, actor=request.user)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    return redirect("review-regrade", course=c.slug, slug=exercise.slug)


@login_required
@require_POST
def regrade_apply(request: HttpRequest, course: str, slug: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    exercise = _exercise(c, slug)
    try:
        report = get_object_or_404(RegradeReport, pk=int(request.POST.get("report", "")), exercise=exercise)
        ids = None if request.POST.get("scope") == "all" else [int(i) for i in request.POST.getlist("submission")]
        if ids == []:
            raise ValidationError("Tick the answers to regrade, or regrade all of them.")
        regrade = services.apply_regrade_report(actor=request.user, report=report, submission_ids=ids)
    except ValueError:
        messages.error(request, "Choose answers from the report.")
        return redirect("review-regrade", course=c.slug, slug=exercise.slug)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("review-regrade", course=c.slug, slug=exercise.slug)
    if regrade is None:
        messages.info(request, "Nothing to regrade: those answers were regraded already or a teacher decided them.")
    else:
        messages.success(
            request, f"Regrading {regrade.jobs.count()} answer(s) with the current exemplars (regrade #{regrade.pk})."
        )
    page = request.POST.get("page", "")
    url = reverse("review-regrade", kwargs={"course": c.slug, "slug": exercise.slug})
    return redirect(url + (f"?page={int(page)}" if page.isdigit() else ""))


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
    messages.success(
        request, f"Graded {len(done)} answer(s); the grader learns from this decision (recalibrating its threshold)."
    )
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

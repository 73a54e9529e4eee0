"""Rostering pages: the instructor's roster (CSV enrolment, join code) and the student's join form."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from courseapp import selectors_instructor as sel
from courseapp.models import Enrolment
from courseapp.services import rostering
from courseapp.services.uploads import read_upload
from courseapp.views import AuthenticatedRequest

MAX_ROSTER_BYTES = 2 * 1024 * 1024


@login_required
@require_http_methods(["GET", "POST"])
def roster(request: AuthenticatedRequest, course: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    report, error = None, ""
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action in ("join_code_new", "join_code_off"):
        rostering.join_code_set(course=c, actor=request.user, enabled=action == "join_code_new")
        return redirect("instructor-roster", course=c.slug)
    if action == "import":
        upload = request.FILES.get("roster")
        try:
            if upload is None:
                raise ValidationError("Choose a CSV file.")
            report = rostering.roster_import_csv(
                course=c, actor=request.user, data=read_upload(upload, MAX_ROSTER_BYTES)
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    enrolments = Enrolment.objects.filter(course=c).select_related("user").order_by("role", "user__username")
    return render(
        request,
        "courseapp/instructor/roster.html",
        {
            "course": c,
            "report": report,
            "error": error,
            "enrolments": enrolments,
            "join_url": request.build_absolute_uri(reverse("course-join")),
        },
        status=400 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def course_join(request: AuthenticatedRequest) -> HttpResponse:
    code = (request.POST.get("code") if request.method == "POST" else request.GET.get("code")) or ""
    error = ""
    if request.method == "POST":
        try:
            enrolment = rostering.course_join(user=request.user, code=code)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            return redirect(reverse("exercise-list") + f"?joined={enrolment.course.slug}")
    return render(request, "courseapp/join.html", {"code": code[:32], "error": error}, status=400 if error else 200)

"""Instructor pages. Every view resolves the course through `course_for_instructor`, which 404s for
anyone who is not an instructor of that course; submissions and exercises are looked up inside it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from courseapp import charts, policies, selectors, similarity
from courseapp import selectors_gradebook as gradebook
from courseapp import selectors_instructor as sel
from courseapp.forms import PolicyForm, RegradeForm, form_errors
from courseapp.models import AuditEntry, Exercise, ExercisePolicy, Extension, Regrade
from courseapp.services import instructor, regrade
from courseapp.views import AuthenticatedRequest


@login_required
@require_GET
def course_list(request: AuthenticatedRequest) -> HttpResponse:
    courses = list(sel.courses_for_instructor(request.user))
    if not courses:
        from django.http import Http404

        raise Http404("No courses to teach")
    return render(request, "courseapp/instructor/course_list.html", {"courses": courses})


@login_required
@require_GET
def dashboard(request: AuthenticatedRequest, course: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    data = sel.dashboard(c)
    per_day = data["per_day"]
    data["per_day_svg"] = charts.bar_chart(
        [d["day"].strftime("%d %b") for d in per_day],
        [d["n"] for d in per_day],
        x_label="day",
        y_label="submissions",
        title="Submissions per day",
    )
    for row in data["exercises"]:
        mx = row["max_score"]
        row["histogram_svg"] = charts.bar_chart(
            [f"{mx * i / 10:g}" for i in range(10)],
            row["histogram"],
            x_label=f"best score (of {mx:g})",
            y_label="students",
            title=f"{row['exercise'].title}: best scores",
            width=420,
            height=180,
        )
    return render(request, "courseapp/instructor/dashboard.html", {"course": c, **data})


@login_required
@require_GET
def submissions(request: AuthenticatedRequest, course: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    page = sel.submissions_browse(c, request.GET, request.GET.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "courseapp/instructor/submissions.html",
        {
            "course": c,
            "page": page,
            "exercises": sel.course_exercises(c),
            "q": request.GET,
            "misconceptions": request.GET.getlist("misconception"),
            "failed": request.GET.getlist("failed"),
            "query": query.urlencode(),
            "catalogue": selectors.misconception_catalogue(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def submission(request: AuthenticatedRequest, course: str, submission_id: int) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    s = sel.submission_for_instructor(c, submission_id)
    error = ""
    if request.method == "POST":
        try:
            score = float(request.POST.get("score", ""))
        except ValueError:
            error = "The score must be a number."
        else:
            try:
                instructor.grade_override(
                    submission=s,
                    actor=request.user,
                    score=score,
                    reason=request.POST.get("reason", ""),
                    comment=request.POST.get("comment", ""),
                )
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                return redirect("instructor-submission", course=c.slug, submission_id=s.pk)
    job = s.latest_job
    result = s.current_result
    window = policies.window_for(s.revision.exercise, s.user)
    return render(
        request,
        "courseapp/instructor/submission.html",
        {
            "course": c,
            "s": s,
            "job": job,
            "result": result,
            "error": error,
            "overrides": list(s.overrides.select_related("created_by")),
            "late": policies.is_late(window, s.created_at),
            "factor": policies.late_factor(window, s.created_at),
            "gradings": list(s.jobs.all()),  # newest first (prefetched)
            "catalogue": selectors.misconception_catalogue(),
            "tests": result.tests if result else [],
            "is_code": s.revision.exercise.kind == Exercise.Kind.MODULE,
            "post": request.POST if request.method == "POST" else {},
        },
        status=400 if error else 200,
    )


@login_required
@require_GET
def gradebook_csv(request: AuthenticatedRequest, course: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    mode = request.GET.get("score", "final")
    if mode not in ("best", "latest", "final"):
        mode = "final"
    resp = HttpResponse(gradebook.gradebook_csv(c, mode), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{c.slug}-gradebook-{mode}.csv"'
    return resp


@login_required
@require_GET
def submissions_csv(request: AuthenticatedRequest, course: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    resp = HttpResponse(gradebook.submissions_csv(c), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{c.slug}-submissions.csv"'
    return resp


@login_required
@require_GET
def progress(request: AuthenticatedRequest, course: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    return render(request, "courseapp/instructor/progress.html", {"course": c, **sel.progress_table(c)})


@login_required
@require_GET
def audit(request: AuthenticatedRequest, course: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    entries = AuditEntry.objects.filter(course=c).select_related("actor")[:500]
    return render(request, "courseapp/instructor/audit.html", {"course": c, "entries": entries})


def _dt(value: str):
    value = (value or "").strip()
    if not value:
        return None
    d = parse_datetime(value)
    if d is None:
        raise ValidationError(f"Not a date and time: {value!r}")
    return timezone.make_aware(d) if timezone.is_naive(d) else d


@login_required
@require_http_methods(["GET", "POST"])
def exercise_settings(request: AuthenticatedRequest, course: str, slug: str) -> HttpResponse:
    """The exercise's policy, its extensions, its regrades."""
    c = sel.course_for_instructor(request.user, course)
    ex = sel.exercise_for_course(c, slug)
    error = ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "extension":
                student = sel.student_in_course(c, request.POST.get("student", "").strip())
                due = _dt(request.POST.get("ext_due_at", ""))
                if due is None:
                    raise ValidationError("An extension needs a due date.")
                instructor.extension_grant(
                    exercise=ex,
                    user=student,
                    actor=request.user,
                    due_at=due,
                    late_until=_dt(request.POST.get("ext_late_until", "")),
                    reason=request.POST.get("reason", ""),
                )
            else:
                form = PolicyForm(request.POST)
                if not form.is_valid():
                    raise ValidationError(form_errors(form))
                instructor.policy_save(
                    exercise=ex,
                    actor=request.user,
                    data={
                        "opens_at": _dt(request.POST.get("opens_at", "")),
                        "due_at": _dt(request.POST.get("due_at", "")),
                        "late_until": _dt(request.POST.get("late_until", "")),
                        **form.policy_values(),
                    },
                )
        except (ValidationError, ValueError) as exc:
            error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        else:
            return redirect("instructor-exercise", course=c.slug, slug=ex.slug)
    return _exercise_settings_page(request, c, ex, error)


def _exercise_settings_page(request: AuthenticatedRequest, c, ex, error: str) -> HttpResponse:
    policy = ExercisePolicy.objects.filter(exercise=ex).first()
    return render(
        request,
        "courseapp/instructor/exercise.html",
        {
            "course": c,
            "exercise": ex,
            "policy": policy,
            "error": error,
            "reveal_choices": ExercisePolicy.Reveal.choices,
            "extensions": Extension.objects.filter(exercise=ex).select_related("user").order_by("user__username"),
            "regrades": sel.regrades_for_exercise(ex),
            "scopes": Regrade.Scope.choices,
            "stale": sel.exercise_has_stale_grades(ex),
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def regrade_start(request: AuthenticatedRequest, course: str, slug: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    ex = sel.exercise_for_course(c, slug)
    form = RegradeForm({"scope": request.POST.get("scope", "latest")})
    if not form.is_valid():
        return _exercise_settings_page(request, c, ex, form_errors(form))
    try:
        r = regrade.regrade_start(exercise=ex, actor=request.user, scope=form.cleaned_data["scope"])
    except ValidationError as exc:
        return _exercise_settings_page(request, c, ex, " ".join(exc.messages))
    return redirect("instructor-regrade", course=c.slug, regrade_id=r.pk)


@login_required
@require_GET
def regrade_report(request: AuthenticatedRequest, course: str, regrade_id: int) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    r = Regrade.objects.filter(pk=regrade_id, exercise__course=c).select_related("exercise", "revision").first()
    if r is None:
        from django.http import Http404

        raise Http404("No such regrade")
    return render(request, "courseapp/instructor/regrade.html", {"course": c, "regrade": r, **sel.regrade_report(r)})


@login_required
@require_GET
def similarity_report(request: AuthenticatedRequest, course: str, slug: str) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    ex = sel.exercise_for_course(c, slug)
    pairs = similarity.exercise_pairs(ex)
    return render(request, "courseapp/instructor/similarity.html", {"course": c, "exercise": ex, "pairs": pairs})


@login_required
@require_GET
def similarity_pair(request: AuthenticatedRequest, course: str, slug: str, a: int, b: int) -> HttpResponse:
    c = sel.course_for_instructor(request.user, course)
    ex = sel.exercise_for_course(c, slug)
    sa = sel.submission_for_instructor(c, a)
    sb = sel.submission_for_instructor(c, b)
    if sa.revision.exercise_id != ex.pk or sb.revision.exercise_id != ex.pk:
        from django.http import Http404

        raise Http404("No such pair")
    starter = ex.current_revision.starter if ex.current_revision else ""
    return render(
        request,
        "courseapp/instructor/similarity_pair.html",
        {"course": c, "exercise": ex, "a": sa, "b": sb, **similarity.side_by_side(sa.source, sb.source, starter)},
    )

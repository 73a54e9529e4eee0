"""LTI endpoints (contracts.md section 4): /lti/login/, /lti/launch/, /lti/jwks/, plus the deep
linking answer and the instructor's LTI page (roster sync, passback state).

pylti1p3 does the OIDC and JWT work; a launch it refuses gets a 400 page that says why, never a 500.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pylti1p3.contrib.django import DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.contrib.django.request import DjangoRequest
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem as AgsLineItem

from courseapp.lti import keys
from courseapp.lti.http import TimeoutSession
from courseapp.lti.launches import DEEP_LINKING_CLAIM, LaunchRefused, claim_map, launch_accept, origin
from courseapp.lti.middleware import SESSION_KEY, with_form_action
from courseapp.lti.models import LtiContext, Passback
from courseapp.lti.roster import RosterUnavailable, roster_sync
from courseapp.lti.tool_config import DbToolConf, LtiSessionService, NonceOnceCacheStorage, platform_for
from courseapp.models import Enrolment, Exercise

log = logging.getLogger(__name__)

DEEP_LINK_SESSION_KEY = "lti_deep_link_launch"


def tool_url(request: HttpRequest | None, path: str) -> str:
    """An absolute URL of this tool: on settings.PUBLIC_URL when set (behind a proxy the request's
    own host may not be what the platform sees), else on the request's host."""
    if settings.PUBLIC_URL:
        return settings.PUBLIC_URL.rstrip("/") + path
    if request is None:
        return path
    return request.build_absolute_uri(path)


def _refused(request: HttpRequest, reason: str, *, status: int = 400) -> HttpResponse:
    log.warning("lti launch refused", extra={"event": "lti_launch_refused", "reason": reason[:500], "status": status})
    return render(request, "lti/refused.html", {"reason": reason}, status=status)


def _services(
    request: HttpRequest, *, post_only: bool
) -> tuple[DjangoRequest, LtiSessionService, NonceOnceCacheStorage]:
    lti_request = DjangoRequest(request, post_only=post_only)
    return lti_request, LtiSessionService(lti_request), NonceOnceCacheStorage()


@csrf_exempt  # the platform starts the login with a cross-site GET or form POST
@require_http_methods(["GET", "POST"])
@never_cache
def oidc_login(request: HttpRequest) -> HttpResponse:
    lti_request, session, storage = _services(request, post_only=False)
    oidc = DjangoOIDCLogin(lti_request, DbToolConf(), session_service=session, launch_data_storage=storage)
    try:
        return oidc.redirect(tool_url(request, reverse("lti-launch")))
    except Exception as exc:  # noqa: BLE001 - unknown issuer, missing login hint...: a refusal, not a crash
        return _refused(request, f"The login request was refused: {exc}")


def exercise_url(exercise: Exercise) -> str:
    """The exercise's page inside its own course (course-scoped URL when the site has one)."""
    try:
        return reverse("course-exercise", kwargs={"course": exercise.course.slug, "slug": exercise.slug})
    except NoReverseMatch:
        return reverse("exercise-detail", args=[exercise.slug])


def course_url(course) -> str:
    try:
        return reverse("course-exercise-list", kwargs={"course": course.slug})
    except NoReverseMatch:
        return reverse("exercise-list")


@csrf_exempt  # the id_token arrives in the platform's cross-site form POST; state + nonce protect it
@require_POST
@never_cache
def launch(request: HttpRequest) -> HttpResponse:
    lti_request, session, storage = _services(request, post_only=True)
    message_launch = DjangoMessageLaunch(
        lti_request,
        DbToolConf(),
        session_service=session,
        launch_data_storage=storage,
        requests_session=TimeoutSession(),
    )
    message_launch.set_public_key_caching(NonceOnceCacheStorage(), cache_lifetime=settings.LTI_PLATFORM_KEYS_CACHE_S)
    try:
        message_launch.validate()
        claims = message_launch.get_launch_data()
        platform = platform_for(message_launch.get_iss(), message_launch.get_client_id())
    except Exception as exc:  # noqa: BLE001 - pylti1p3 raises LtiException, and jwt/json/key errors as they come
        return _refused(request, f"This launch was refused: {exc}")
    is_deep_link = message_launch.is_deep_link_launch()
    if not (is_deep_link or message_launch.is_resource_launch()):
        message_type = claims.get("https://purl.imsglobal.org/spec/lti/claim/message_type")
        return _refused(request, f"This tool does not handle '{message_type}' messages.")
    try:
        accepted = launch_accept(platform, claims)
    except LaunchRefused as exc:
        return _refused(request, str(exc), status=403)
    if is_deep_link and not accepted.is_staff:
        return _refused(request, "Only instructors can place exercises in a course.", status=403)
    login(request, accepted.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_KEY] = accepted.frame_origins
    if is_deep_link:
        request.session[DEEP_LINK_SESSION_KEY] = message_launch.get_launch_id()
        exercises = Exercise.objects.filter(
            course=accepted.context.course, current_revision__isnull=False
        ).select_related("current_revision")
        settings_claim = claim_map(claims, DEEP_LINKING_CLAIM)
        return render(
            request,
            "lti/deep_link.html",
            {
                "exercises": exercises,
                "launch_id": message_launch.get_launch_id(),
                "course": accepted.context.course,
                "multiple": str(settings_claim.get("accept_multiple", True)).lower() != "false",
            },
        )
    if accepted.exercise is not None:
        return redirect(exercise_url(accepted.exercise))
    return redirect(course_url(accepted.context.course))


@require_POST
@login_required
@never_cache
def deep_link_response(request: HttpRequest) -> HttpResponse:
    """The instructor's choice, as the signed LtiDeepLinkingResponse posted back to the platform."""
    launch_id = request.POST.get("launch_id", "")
    if not launch_id or request.session.get(DEEP_LINK_SESSION_KEY) != launch_id:
        return _refused(
            request, "This deep-linking choice does not belong to your launch; start it again from the LMS.", status=403
        )
    lti_request, session, storage = _services(request, post_only=True)
    try:
        message_launch = DjangoMessageLaunch.from_cache(
            launch_id,
            lti_request,
            DbToolConf(),
            session_service=session,
            launch_data_storage=storage,
            requests_session=TimeoutSession(),
        )
        deep_link = message_launch.get_deep_link()
    except Exception as exc:  # noqa: BLE001 - expired or unknown launch
        return _refused(
            request, f"The deep-linking launch has expired or is unknown ({exc}); start it again from the LMS."
        )
    claims = message_launch.get_launch_data()
    accepted = launch_accept(platform_for(message_launch.get_iss(), message_launch.get_client_id()), claims)
    if not accepted.is_staff or accepted.user.pk != request.user.pk:
        return _refused(request, "Only the instructor who started this deep-linking launch can answer it.", status=403)
    slugs = request.POST.getlist("exercise")
    chosen = [
        e
        for e in Exercise.objects.filter(course=accepted.context.course, slug__in=slugs).select_related(
            "current_revision"
        )
        if e.current_revision is not None
    ]
    if not chosen:
        messages.error(request, "Pick at least one exercise.")
        exercises = Exercise.objects.filter(course=accepted.context.course, current_revision__isnull=False)
        return render(
            request,
            "lti/deep_link.html",
            {"exercises": exercises, "launch_id": launch_id, "course": accepted.context.course, "multiple": True},
            status=400,
        )
    launch_url = tool_url(request, reverse("lti-launch"))
    resources = [
        DeepLinkResource()
        .set_url(launch_url)
        .set_title(e.title)
        .set_custom_params({"exercise": e.slug})
        .set_lineitem(AgsLineItem().set_label(e.title).set_score_maximum(rev.max_score).set_resource_id(e.slug))
        for e in chosen
        if (rev := e.current_revision) is not None
    ]
    settings_claim = claim_map(claims, DEEP_LINKING_CLAIM)
    return_url = str(settings_claim.get("deep_link_return_url") or "")
    response = render(
        request,
        "lti/deep_link_return.html",
        {"return_url": return_url, "jwt": deep_link.get_response_jwt(resources), "chosen": chosen},
    )
    return_origin = origin(return_url)
    response["Content-Security-Policy"] = with_form_action(
        settings.CONTENT_SECURITY_POLICY, [return_origin] if return_origin else []
    )
    return response


@require_GET
@xframe_options_exempt
def jwks(request: HttpRequest) -> JsonResponse:
    """The tool's public keys (current and previous), each with its kid."""
    response = JsonResponse(keys.published_jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


def _context_for_instructor(user, course_slug: str) -> LtiContext:
    context = LtiContext.objects.select_related("course", "platform").filter(course__slug=course_slug).first()
    if (
        context is None
        or not Enrolment.objects.filter(user=user, course=context.course, role=Enrolment.Role.INSTRUCTOR).exists()
    ):
        raise Http404("No LTI course of yours")
    return context


@login_required
@require_GET
def course_lti(request: HttpRequest, course: str) -> HttpResponse:
    """For instructors: where the course comes from, its roster button and the passback outbox."""
    context = _context_for_instructor(request.user, course)
    passbacks = (
        Passback.objects.filter(exercise__course=context.course)
        .select_related("user", "exercise")
        .order_by("-changed_at")[:200]
    )
    return render(request, "lti/course.html", {"context": context, "course": context.course, "passbacks": passbacks})


@login_required
@require_POST
def course_roster_sync(request: HttpRequest, course: str) -> HttpResponse:
    context = _context_for_instructor(request.user, course)
    try:
        counts = roster_sync(context)
    except RosterUnavailable as exc:
        messages.error(request, str(exc))
    except Exception as exc:  # noqa: BLE001 - the platform refused or is down: say so, keep the page
        messages.error(request, f"The platform did not give the roster: {exc}")
    else:
        messages.success(request, f"Roster synced: {counts}.")
    return redirect("lti-course", course=context.course.slug)

"""The real launch flow, from a loopback platform through the running tool's URLs: learners and
instructors get the right account, course, enrolment and page; every bad launch is refused with a
clear 4xx page."""

from __future__ import annotations

import time

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command

from courseapp.lti.models import LineItem, LtiContext, LtiUser, ResourceLink
from courseapp.models import Course, Enrolment, Exercise
from tests.lti.conftest import parse_form
from tests.lti.platform import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT, PendingLaunch, login_params, new_rsa_key

pytestmark = pytest.mark.django_db(transaction=True)


def _enrolment(sub: str) -> Enrolment:
    link = LtiUser.objects.select_related("user").get(sub=sub)
    return Enrolment.objects.select_related("course").get(user=link.user, course__lti_context__isnull=False)


def test_learner_launch_opens_the_linked_exercise_in_the_contexts_new_course(platform, browser, module_course):
    claims = platform.base_claims(
        "learner-1", [LEARNER], custom={"exercise": "mini-two"}, lineitem=platform.lineitems_url + "/77"
    )
    trip = browser.login_then_launch(platform, PendingLaunch(claims))

    assert trip.response.status_code == 200, trip.response.text[:2000]
    assert trip.response.url.endswith(f"/courses/{_enrolment('learner-1').course.slug}/exercises/mini-two/")
    assert "A second block" in trip.response.text

    context = LtiContext.objects.select_related("course").get(context_id=platform.context_id)
    course = context.course
    assert course.pk != module_course.pk and course.title == "Residual networks 101"
    # The course offers the module's exercises, at the module's current revisions.
    offered = {e.slug: e for e in Exercise.objects.filter(course=course).select_related("current_revision")}
    assert set(offered) == {"mini-block", "mini-two"}
    for original in Exercise.objects.filter(course=module_course).select_related("current_revision"):
        copy = offered[original.slug].current_revision
        assert copy.content_hash == original.current_revision.content_hash
        assert copy.files == original.current_revision.files and copy.max_score == original.current_revision.max_score

    enrolment = _enrolment("learner-1")
    assert enrolment.course == course and enrolment.role == Enrolment.Role.STUDENT
    user = enrolment.user
    assert (user.first_name, user.last_name, user.email) == (
        "Given-learner-1",
        "Family-learner-1",
        "learner-1@example.edu",
    )
    assert not user.has_usable_password()
    assert context.lineitems_url == platform.lineitems_url and context.memberships_url == platform.memberships_url
    link = ResourceLink.objects.get(context=context)
    assert link.exercise == offered["mini-two"] and link.lineitem_url == platform.lineitems_url + "/77"
    assert LineItem.objects.get(context=context).url == platform.lineitems_url + "/77"

    # Logged in: the course's pages answer without another login.
    assert browser.get("/").status_code == 200

    # A second launch of the same person finds the same account and course (no duplicates).
    browser2 = type(browser)(browser.tool_url)
    trip2 = browser2.login_then_launch(platform, PendingLaunch(platform.base_claims("learner-1", [LEARNER])))
    assert trip2.response.status_code == 200
    assert LtiUser.objects.filter(sub="learner-1").count() == 1
    assert Course.objects.filter(lti_context__isnull=False).count() == 1


def test_launch_without_or_with_an_unknown_exercise_gets_the_course_list(platform, browser):
    trip = browser.login_then_launch(
        platform, PendingLaunch(platform.base_claims("learner-2", [LEARNER], custom={"exercise": "no-such-exercise"}))
    )
    assert trip.response.status_code == 200
    assert (
        trip.response.url == browser.tool_url + f"/courses/{_enrolment('learner-2').course.slug}/"
    )  # its course's list
    assert "A mini block" in trip.response.text and "A second block" in trip.response.text


@pytest.mark.parametrize(
    "roles,expected",
    [
        ([INSTRUCTOR], Enrolment.Role.INSTRUCTOR),
        ([TEACHING_ASSISTANT], Enrolment.Role.INSTRUCTOR),
        ([LEARNER, INSTRUCTOR], Enrolment.Role.INSTRUCTOR),  # staff wins
        ([LEARNER], Enrolment.Role.STUDENT),
    ],
)
def test_roles_make_staff_or_student(platform, browser, roles, expected):
    trip = browser.login_then_launch(
        platform, PendingLaunch(platform.base_claims("person-1", roles, custom={"exercise": "mini-block"}))
    )
    assert trip.response.status_code == 200, trip.response.text[:2000]
    assert _enrolment("person-1").role == expected


def test_instructor_launch_opens_the_exercise_and_the_lti_course_page(platform, browser):
    trip = browser.login_then_launch(
        platform, PendingLaunch(platform.base_claims("teacher-1", [INSTRUCTOR], custom={"exercise": "mini-block"}))
    )
    assert trip.response.status_code == 200 and trip.response.url.endswith("/exercises/mini-block/")
    enrolment = _enrolment("teacher-1")
    assert enrolment.role == Enrolment.Role.INSTRUCTOR
    page = browser.get(f"/lti/courses/{enrolment.course.slug}/")
    assert page.status_code == 200 and "Sync the roster" in page.text
    # The instructor pages of the course are theirs too.
    assert browser.get(f"/instructor/{enrolment.course.slug}/").status_code == 200


def test_a_role_the_tool_does_not_know_is_refused_clearly(platform, browser):
    trip = browser.login_then_launch(
        platform,
        PendingLaunch(platform.base_claims("mentor-1", ["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"])),
    )
    assert trip.response.status_code == 403
    assert "neither instructor, teaching assistant nor learner" in trip.response.text
    assert not LtiUser.objects.exists()


# ---- refusals ---------------------------------------------------------------------------------


def _refused(trip, *phrases: str) -> None:
    assert 400 <= trip.response.status_code < 500, (trip.response.status_code, trip.response.text[:1500])
    assert "This launch was refused" in trip.response.text
    for phrase in phrases:
        assert phrase in trip.response.text, trip.response.text[:3000]
    assert not Enrolment.objects.filter(course__lti_context__isnull=False).exists()


def test_wrong_issuer_is_refused(platform, browser):
    launch = PendingLaunch(platform.base_claims("eve", [LEARNER]), issuer="https://lms.example.org")
    _refused(browser.login_then_launch(platform, launch), "is not registered")


def test_bad_signature_is_refused(platform, browser):
    launch = PendingLaunch(platform.base_claims("eve", [LEARNER]), sign_with=new_rsa_key())
    _refused(browser.login_then_launch(platform, launch), "Signature verification failed")


def test_expired_token_is_refused(platform, browser):
    launch = PendingLaunch(platform.base_claims("eve", [LEARNER]), exp_offset_s=-120)
    _refused(browser.login_then_launch(platform, launch), "expired")


def test_expired_nonce_is_refused(platform, browser, settings):
    settings.LTI_NONCE_TTL_S = 1
    hint_launch = PendingLaunch(platform.base_claims("eve", [LEARNER]))
    hint = platform.prepare(hint_launch)
    start = browser.session.get(
        browser.tool_url + "/lti/login/", params=login_params(platform, hint, "eve"), allow_redirects=False
    )
    page = browser.session.get(start.headers["Location"])
    action, form = parse_form(page.text)
    time.sleep(2.5)  # the platform's user took too long: the nonce the tool issued has expired
    response = browser.post(action, form)
    assert response.status_code == 400 and "Invalid Nonce" in response.text


def test_replayed_launch_is_refused(platform, browser):
    trip = browser.login_then_launch(platform, PendingLaunch(platform.base_claims("learner-3", [LEARNER])))
    assert trip.response.status_code == 200
    replay = browser.post(trip.action, trip.form)
    assert replay.status_code == 400 and "Invalid Nonce" in replay.text
    # ...also from another browser (a stolen form), which does not even have the state cookie.
    thief = type(browser)(browser.tool_url)
    stolen = thief.post(trip.action, trip.form)
    assert stolen.status_code == 400 and "This launch was refused" in stolen.text


def test_a_nonce_the_tool_never_issued_is_refused(platform, browser):
    launch = PendingLaunch(platform.base_claims("eve", [LEARNER]), nonce="made-up-nonce")
    _refused(browser.login_then_launch(platform, launch), "Invalid Nonce")


def test_unknown_deployment_is_refused(platform, browser):
    claims = platform.base_claims("eve", [LEARNER])
    claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "deployment-unknown"
    _refused(browser.login_then_launch(platform, PendingLaunch(claims)), "Unable to find deployment")


def test_bad_state_is_refused(platform, browser):
    trip = browser.login_then_launch(platform, PendingLaunch(platform.base_claims("eve", [LEARNER])), spoil_state=True)
    _refused(trip, "State not found")


def test_wrong_audience_is_refused(platform, browser):
    launch = PendingLaunch(platform.base_claims("eve", [LEARNER]), audience="someone-elses-client")
    _refused(browser.login_then_launch(platform, launch), "is not registered")


def test_garbage_and_get_launches_are_4xx_not_500(platform, browser):
    assert browser.post(browser.tool_url + "/lti/launch/", {"id_token": "not.a.jwt", "state": "x"}).status_code == 400
    assert browser.post(browser.tool_url + "/lti/launch/", {}).status_code == 400
    assert browser.get("/lti/launch/").status_code == 405
    login = browser.get("/lti/login/?iss=https://unknown.example&login_hint=x")
    assert login.status_code == 400 and "is not registered" in login.text
    assert browser.get("/lti/login/").status_code == 400


def test_launch_without_a_context_is_refused(platform, browser):
    trip = browser.login_then_launch(platform, PendingLaunch(platform.base_claims("eve", [LEARNER], context=False)))
    assert trip.response.status_code == 403 and "names no course" in trip.response.text


# ---- cross-site use -----------------------------------------------------------------------------


def test_lti_sessions_may_be_framed_by_their_platform_and_use_cross_site_cookies(platform, browser, client):
    trip = browser.login_then_launch(
        platform, PendingLaunch(platform.base_claims("learner-4", [LEARNER], custom={"exercise": "mini-block"}))
    )
    page = trip.response
    assert "X-Frame-Options" not in page.headers
    assert f"frame-ancestors 'self' {platform.url}" in page.headers["Content-Security-Policy"]
    # Everyone else's pages keep the strict default.
    other = client.get("/accounts/login/")
    assert other["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in other["Content-Security-Policy"]


def test_over_https_the_launch_sets_samesite_none_secure_cookies(platform, client, settings, live_server):
    """The launch is the LMS's cross-site form POST: over HTTPS the state cookie and the session
    cookie must be SameSite=None; Secure, or the browser drops them inside the LMS's iframe."""
    settings.PUBLIC_URL = live_server.url  # the launch URL registered with the platform
    hint = platform.prepare(PendingLaunch(platform.base_claims("learner-5", [LEARNER])))
    start = client.get("/lti/login/", login_params(platform, hint, "learner-5"), secure=True)
    assert start.status_code == 302
    state_cookie = [c for c in start.cookies.values() if c.key.startswith("lti1p3-state")][0]
    assert state_cookie["samesite"] == "None" and state_cookie["secure"]
    _action, form = parse_form(requests.get(start["Location"], timeout=30).text)
    response = client.post("/lti/launch/", form, secure=True)
    assert response.status_code == 302, response.content[:2000]
    session_cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session_cookie["samesite"] == "None" and session_cookie["secure"]


def test_jwks_serves_the_current_and_previous_key_after_rotation(client, db):
    first = client.get("/lti/jwks/").json()["keys"]
    assert len(first) == 1 and first[0]["kty"] == "RSA" and first[0]["kid"] and first[0]["alg"] == "RS256"
    call_command("lti_rotate_key")
    second = client.get("/lti/jwks/").json()["keys"]
    assert len(second) == 2 and second[1]["kid"] == first[0]["kid"]
    call_command("lti_rotate_key")
    third = client.get("/lti/jwks/").json()["keys"]
    assert [k["kid"] for k in third] != [k["kid"] for k in second] and third[1]["kid"] == second[0]["kid"]
    assert first[0]["kid"] not in {k["kid"] for k in third}
    assert all(private not in k for k in third for private in ("d", "p", "q"))  # public halves only
    assert get_user_model().objects.count() == 0


def test_one_account_per_issuer_and_sub_across_the_issuers_registrations(platform, browser):
    assert browser.login_then_launch(platform, PendingLaunch(platform.base_claims("learner-7", [LEARNER]))).response.ok
    # The same LMS has the tool registered a second time (another client id).
    call_command(
        "lti_add_platform",
        "--issuer",
        platform.issuer,
        "--client-id",
        "tool-client-2",
        "--deployment-id",
        platform.deployment_id,
        "--auth-login-url",
        platform.auth_login_url,
        "--auth-token-url",
        platform.token_url,
        "--key-set-url",
        platform.jwks_url,
    )
    platform.client_id = "tool-client-2"
    again = type(browser)(browser.tool_url)
    assert again.login_then_launch(platform, PendingLaunch(platform.base_claims("learner-7", [LEARNER]))).response.ok
    assert LtiUser.objects.filter(sub="learner-7").count() == 1
    assert get_user_model().objects.filter(lti_links__sub="learner-7").count() == 1


def test_oddly_typed_claims_are_tolerated_or_refused_never_a_500(platform, browser):
    claims = platform.base_claims("learner-8", [LEARNER, {"not": "a role"}], custom={"exercise": "mini-block"})
    claims["https://purl.imsglobal.org/spec/lti/claim/custom"] = ["exercise", "mini-block"]
    claims["https://purl.imsglobal.org/spec/lti/claim/launch_presentation"] = "iframe"
    claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = {"scope": "not-a-list", "lineitems": 7}
    trip = browser.login_then_launch(platform, PendingLaunch(claims))
    assert trip.response.status_code == 200
    assert (
        trip.response.url == browser.tool_url + f"/courses/{_enrolment('learner-8').course.slug}/"
    )  # the course's list
    assert _enrolment("learner-8").role == Enrolment.Role.STUDENT

    odd_context = platform.base_claims("learner-9", [LEARNER])
    odd_context["https://purl.imsglobal.org/spec/lti/claim/context"] = "course-101"
    trip = type(browser)(browser.tool_url).login_then_launch(platform, PendingLaunch(odd_context))
    assert trip.response.status_code == 403 and "names no course" in trip.response.text

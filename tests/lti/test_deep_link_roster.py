"""Deep linking (an instructor places exercises in the LMS) and roster sync (NRPS), against the
loopback platform through the running tool's URLs."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from courseapp.lti.models import LtiContext, LtiUser
from courseapp.models import Enrolment
from tests.lti.conftest import parse_form
from tests.lti.platform import INSTRUCTOR, LEARNER, TEACHING_ASSISTANT, PendingLaunch

pytestmark = pytest.mark.django_db(transaction=True)

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LAUNCH_ID = re.compile(r'name="launch_id" value="([^"]+)"')


def deep_link_launch(platform, browser, sub: str, roles: list[str]):
    claims = platform.base_claims(sub, roles, message_type="LtiDeepLinkingRequest")
    return browser.login_then_launch(platform, PendingLaunch(claims)).response


def test_instructor_places_exercises_through_deep_linking(platform, browser, live_server):
    picker = deep_link_launch(platform, browser, "teacher-1", [INSTRUCTOR])
    assert picker.status_code == 200, picker.text[:2000]
    assert "A mini block" in picker.text and "A second block" in picker.text
    assert "X-Frame-Options" not in picker.headers  # it opens in the LMS's iframe

    answer = browser.session.post(
        live_server.url + "/lti/deep-link/",
        data={
            "csrfmiddlewaretoken": CSRF.search(picker.text).group(1),
            "launch_id": LAUNCH_ID.search(picker.text).group(1),
            "exercise": ["mini-block", "mini-two"],
        },
        headers={"Referer": picker.url},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:2000]
    assert f"form-action 'self' {platform.url}" in answer.headers["Content-Security-Policy"]
    assert "lti/autosubmit.js" in answer.text  # posts itself back (no inline script under the site's CSP)
    action, form = parse_form(answer.text, "lti-deep-link-return")
    assert action == platform.deep_link_return_url
    returned = browser.post(action, form)
    assert returned.status_code == 200, platform.received.refused

    [claims] = platform.received.deep_link_responses  # the platform verified it against /lti/jwks/
    assert claims["iss"] == platform.client_id and claims["aud"] == [platform.issuer]
    assert claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] == "LtiDeepLinkingResponse"
    assert claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] == platform.deployment_id
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-platform-data"
    items = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert [(i["type"], i["custom"], i["url"]) for i in items] == [
        ("ltiResourceLink", {"exercise": "mini-block"}, platform.tool_launch_url),
        ("ltiResourceLink", {"exercise": "mini-two"}, platform.tool_launch_url),
    ]
    assert items[0]["title"] == "A mini block"
    assert items[0]["lineItem"] == {"scoreMaximum": 10.0, "label": "A mini block", "resourceId": "mini-block"}

    # The placed link launches the student into that exercise.
    student = type(browser)(browser.tool_url)
    trip = student.login_then_launch(
        platform,
        PendingLaunch(
            platform.base_claims("learner-1", [LEARNER], custom=items[1]["custom"], resource_link_id="placed-2")
        ),
    )
    assert trip.response.status_code == 200 and trip.response.url.endswith("/exercises/mini-two/")


def test_deep_linking_is_for_instructors_and_their_own_launch_only(platform, browser, live_server):
    refused = deep_link_launch(platform, browser, "learner-1", [LEARNER])
    assert refused.status_code == 403 and "Only instructors" in refused.text
    assert browser.get("/").url.startswith(live_server.url + "/accounts/login/")  # and not logged in

    picker = deep_link_launch(platform, type(browser)(browser.tool_url), "teacher-1", [INSTRUCTOR])
    launch_id = LAUNCH_ID.search(picker.text).group(1)
    # Someone else's session (a learner's, after an ordinary launch) cannot answer the instructor's
    # deep-linking launch, even knowing its id.
    learner = browser.login_then_launch(platform, PendingLaunch(platform.base_claims("learner-1", [LEARNER])))
    assert learner.response.ok
    stolen = browser.session.post(
        live_server.url + "/lti/deep-link/",
        data={
            "csrfmiddlewaretoken": CSRF.search(learner.response.text).group(1),
            "launch_id": launch_id,
            "exercise": ["mini-block"],
        },
        headers={"Referer": live_server.url + "/"},
        timeout=30,
    )
    assert stolen.status_code == 403 and "does not belong to your launch" in stolen.text
    assert platform.received.deep_link_responses == []


def test_roster_sync_from_the_instructor_page_and_the_command(platform, browser, live_server):
    lis = "http://purl.imsglobal.org/vocab/lis/v2/"
    # Someone who launched once and has since left the course.
    leaver = type(browser)(browser.tool_url)
    assert leaver.login_then_launch(platform, PendingLaunch(platform.base_claims("leaver", [LEARNER]))).response.ok
    platform.members = [
        {
            "user_id": "teacher-1",
            "roles": [INSTRUCTOR],
            "status": "Active",
            "name": "T One",
            "given_name": "T",
            "family_name": "One",
            "email": "t1@example.edu",
        },
        {"user_id": "ta-1", "roles": [TEACHING_ASSISTANT], "given_name": "Tay", "family_name": "Ay"},
        {"user_id": "learner-1", "roles": [LEARNER], "status": "Active", "given_name": "Lea", "family_name": "One"},
        {"user_id": "learner-2", "roles": [lis + "membership#Learner"], "status": "Active"},
        {"user_id": "leaver", "roles": [LEARNER], "status": "Inactive"},
        {"user_id": "mentor-1", "roles": [lis + "membership#Mentor"], "status": "Active"},
    ]
    trip = browser.login_then_launch(platform, PendingLaunch(platform.base_claims("teacher-1", [INSTRUCTOR])))
    assert trip.response.ok
    course = LtiContext.objects.get().course
    page = browser.get(f"/lti/courses/{course.slug}/")
    synced = browser.session.post(
        live_server.url + f"/lti/courses/{course.slug}/roster-sync/",
        data={"csrfmiddlewaretoken": CSRF.search(page.text).group(1)},
        headers={"Referer": page.url},
        timeout=30,
    )
    assert synced.status_code == 200
    assert "Roster synced: 4 enrolled, 1 removed, 1 skipped" in synced.text

    roles = {e.user.lti_links.get().sub: e.role for e in Enrolment.objects.filter(course=course).select_related("user")}
    assert roles == {
        "teacher-1": Enrolment.Role.INSTRUCTOR,
        "ta-1": Enrolment.Role.INSTRUCTOR,
        "learner-1": Enrolment.Role.STUDENT,
        "learner-2": Enrolment.Role.STUDENT,
    }
    lea = LtiUser.objects.get(sub="learner-1").user
    assert (lea.first_name, lea.last_name) == ("Lea", "One")
    # The platform was asked with a token for the NRPS scope, over every page (2 members a page).
    assert not platform.received.refused

    # The command does the same, and again changes nothing.
    users_before = LtiUser.objects.count()
    call_command("lti_sync_roster", course.slug)
    assert LtiUser.objects.count() == users_before
    assert Enrolment.objects.filter(course=course).count() == 4

    # The platform down: a clear message, not a 500.
    platform.down = True
    failed = browser.session.post(
        live_server.url + f"/lti/courses/{course.slug}/roster-sync/",
        data={"csrfmiddlewaretoken": CSRF.search(page.text).group(1)},
        headers={"Referer": page.url},
        timeout=30,
    )
    assert failed.status_code == 200 and "The platform did not give the roster" in failed.text


def test_lti_course_page_is_for_that_courses_instructors_only(platform, browser):
    assert browser.login_then_launch(platform, PendingLaunch(platform.base_claims("learner-9", [LEARNER]))).response.ok
    course = LtiContext.objects.get().course
    assert browser.get(f"/lti/courses/{course.slug}/").status_code == 404

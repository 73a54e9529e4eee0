"""Grade passback (AGS) to the loopback platform: after a graded submission, an override and a
regrade the platform receives the right score; while it is down the passback waits and is retried
until it is accepted; provisional grades go as PendingManual without a score.

The grade changes go through the real service functions (grading_job_run with a stand-in grader,
grade_override, regrade_start), which send courseapp.signals.final_grade_changed; the outbox is
drained here by calling the drain service (tests/lti/test_passback_worker.py does it with a real
Celery worker)."""

from __future__ import annotations

import re
from datetime import timedelta

import jwt
import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from courseapp.lti import passback
from courseapp.lti.models import LineItem, LtiContext, LtiUser, Passback, ToolKey
from courseapp.models import Enrolment, GradingJob, Submission
from courseapp.services import exercise_sync, grading_job_run
from courseapp.services.instructor import grade_override
from courseapp.services.regrade import regrade_start
from grader.results import CheckResult, Execution, GradeResult, Outcome
from tests.conftest import StandInGrader, capture_grading_sends
from tests.lti.platform import INSTRUCTOR, LEARNER, PendingLaunch

pytestmark = pytest.mark.django_db(transaction=True)

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class FixedScoreGrader:
    """A grader that gives every submission `score` of 10 (a changed exercise, say), optionally
    marked provisional the way a free-text grade awaiting review is."""

    def __init__(self, score: float, *, provisional: bool = False) -> None:
        self.score = score
        self.provisional = provisional

    def grade(self, spec, data: bytes, progress=None, limits=None) -> GradeResult:
        return GradeResult(
            score=self.score,
            max_score=10.0,
            status="graded",
            output=f"{self.score:g} of 10.",
            outcome=Outcome.OK if self.score == 10 else Outcome.WRONG,
            tests=[
                CheckResult(
                    name="all",
                    score=self.score,
                    max_score=10,
                    status="passed" if self.score == 10 else "failed",
                    output="",
                    visibility="visible",
                )
            ],
            execution=Execution(wall_s=0.1, cpu_s=0.1, device="cpu", peak_rss_mb=100.0),
            extra={"provisional": True} if self.provisional else {},
        )


@pytest.fixture
def queued_tasks(monkeypatch):
    """What would go to Celery (grading jobs and passback sends), captured instead of sent."""
    sent: list[tuple[str, list]] = []
    from courseapp.lti import tasks as lti_tasks

    capture_grading_sends(monkeypatch, lambda args, options: sent.append(("grade", args)))
    monkeypatch.setattr(lti_tasks.passback_send, "apply_async", lambda args=None, **kw: sent.append(("passback", args)))
    return sent


def launch(platform, browser, sub: str, roles: list[str], **claims):
    trip = browser.login_then_launch(platform, PendingLaunch(platform.base_claims(sub, roles, **claims)))
    assert trip.response.status_code == 200, trip.response.text[:2000]
    return LtiUser.objects.select_related("user").get(sub=sub).user


def submit(browser, slug: str, source: str) -> Submission:
    """The student hands in through the exercise's page in the LTI course, as in the browser."""
    path = reverse("course-exercise", kwargs={"course": LtiContext.objects.get().course.slug, "slug": slug})
    page = browser.get(path)
    token = CSRF.search(page.text).group(1)
    before = set(Submission.objects.values_list("pk", flat=True))
    response = browser.session.post(
        browser.tool_url + path,
        data={"source": source, "csrfmiddlewaretoken": token},
        headers={"Referer": browser.tool_url + path},
        timeout=30,
    )
    assert response.status_code == 200, response.text[:2000]
    return Submission.objects.exclude(pk__in=before).get()


def grade_queued(grader) -> None:
    """Run every queued grading job in this process (the worker's service call)."""
    for job_id in GradingJob.objects.filter(status=GradingJob.Status.QUEUED).values_list("pk", flat=True):
        grading_job_run(job_id, grader=grader)


def test_passback_after_a_grade_an_override_and_a_regrade(
    platform, browser, queued_tasks, exercise_in_lti_course, exercises_root, module_course
):
    # The launch names its own line item for this exercise: grades go there.
    item = platform.add_lineitem(label="A mini block", score_maximum=10, resource_link_id="link-1")
    student = launch(platform, browser, "learner-1", [LEARNER], custom={"exercise": "mini-block"}, lineitem=item["id"])
    exercise = exercise_in_lti_course("mini-block")

    first = submit(browser, "mini-block", "def wrong(): pass\n")
    assert first.revision.exercise == exercise
    grade_queued(StandInGrader())  # no '+ x': 2 of 10
    assert ("passback", [Passback.objects.get(user=student, exercise=exercise).pk]) in queued_tasks
    assert passback.passback_drain() == {"due": 1, "sent": 1, "failed": 0}
    [score] = platform.scores_for(item["id"])
    assert score["scoreGiven"] == 2.0 and score["scoreMaximum"] == 10.0
    assert score["userId"] == "learner-1"
    assert score["activityProgress"] == "Completed" and score["gradingProgress"] == "FullyGraded"
    assert score["timestamp"]
    assert platform.received.lineitems_created == []  # the launch's line item was used

    submit(browser, "mini-block", "y = x + x\n")
    grade_queued(StandInGrader())  # '+ x': 10 of 10, the best so far
    passback.passback_drain()
    assert [s["scoreGiven"] for s in platform.scores_for(item["id"])] == [2.0, 10.0]

    # The exercise changes (a new revision) and is regraded: the stricter grader gives 4.
    (exercises_root / "mini-block" / "prompt.md").write_text("# Mini block\n\nNow stricter.\n")
    exercise_sync(exercises_root, grader=StandInGrader())
    from courseapp.lti.launches import course_offer_module_exercises

    course_offer_module_exercises(exercise.course)
    exercise.refresh_from_db()
    regrade_start(exercise=exercise, actor=None)
    grade_queued(FixedScoreGrader(4))
    passback.passback_drain()
    assert [s["scoreGiven"] for s in platform.scores_for(item["id"])] == [2.0, 10.0, 4.0]

    # Three sends, one access token: the tool reuses it.
    assert len(platform.received.token_requests) == 1

    # The tool's key is rotated and the platform revokes its tokens: the next send is refused
    # (401), the tool drops the token, and its retry gets a new one, signed with the new key.
    call_command("lti_rotate_key")
    platform.tokens.clear()
    # An instructor overrides the first submission: the override is the final grade.
    teacher = launch(platform, type(browser)(browser.tool_url), "teacher-1", [INSTRUCTOR])
    grade_override(submission=first, actor=teacher, score=7, reason="partial credit for the idea")
    assert passback.passback_drain() == {"due": 1, "sent": 0, "failed": 1}
    Passback.objects.filter(user=student).update(next_attempt_at=timezone.now())
    assert passback.passback_drain() == {"due": 1, "sent": 1, "failed": 0}
    scores = platform.scores_for(item["id"])
    assert [s["scoreGiven"] for s in scores] == [2.0, 10.0, 4.0, 7.0]
    assert all(s["userId"] == "learner-1" and s["scoreMaximum"] == 10.0 for s in scores)
    assert [s["timestamp"] for s in scores] == sorted(s["timestamp"] for s in scores)
    row = Passback.objects.get(user=student, exercise=exercise)
    assert not row.pending and row.last_sent["scoreGiven"] == 7.0
    assert passback.passback_drain() == {"due": 0, "sent": 0, "failed": 0}  # nothing is sent twice

    # Every token request carried an assertion the platform verified against /lti/jwks/; the last
    # one was signed with the rotated key.
    assert len(platform.received.token_requests) == 2
    assert platform.received.refused == ["no token with the score scope"]  # the revoked token, once
    last = jwt.get_unverified_header(platform.received.token_requests[-1]["client_assertion"])
    assert last["kid"] == ToolKey.objects.latest().kid


def test_without_a_launch_line_item_one_is_created_with_the_slug_as_resource_id(
    platform, browser, queued_tasks, exercise_in_lti_course
):
    launch(platform, browser, "learner-2", [LEARNER], custom={"exercise": "mini-two"})
    submit(browser, "mini-two", "x = 1\n")
    grade_queued(StandInGrader())
    passback.passback_drain()
    assert platform.received.lineitems_created == [
        {"label": "A second block", "scoreMaximum": 10.0, "resourceId": "mini-two"}
    ]
    [item] = platform.lineitems
    assert [s["scoreGiven"] for s in platform.scores_for(item["id"])] == [2.0]
    assert LineItem.objects.get(exercise=exercise_in_lti_course("mini-two")).url == item["id"]

    # A second student's grade goes to the same line item: it is created once.
    other = type(browser)(browser.tool_url)
    launch(platform, other, "learner-3", [LEARNER], custom={"exercise": "mini-two"})
    submit(other, "mini-two", "y = x + x\n")
    grade_queued(StandInGrader())
    passback.passback_drain()
    assert len(platform.lineitems) == 1 and len(platform.received.lineitems_created) == 1
    assert [(s["userId"], s["scoreGiven"]) for s in platform.scores_for(item["id"])] == [
        ("learner-2", 2.0),
        ("learner-3", 10.0),
    ]


def test_a_line_item_the_platform_already_has_is_found_by_resource_id(platform, browser, queued_tasks):
    existing = platform.add_lineitem(label="Made in the LMS", score_maximum=10, resource_id="mini-block")
    launch(platform, browser, "learner-4", [LEARNER], custom={"exercise": "mini-block"})
    submit(browser, "mini-block", "z = x + x\n")
    grade_queued(StandInGrader())
    passback.passback_drain()
    assert platform.received.lineitems_created == []
    assert [s["scoreGiven"] for s in platform.scores_for(existing["id"])] == [10.0]


def test_a_provisional_grade_goes_as_pending_manual_without_a_score(
    platform, browser, queued_tasks, exercise_in_lti_course
):
    item = platform.add_lineitem(label="A mini block", score_maximum=10)
    student = launch(platform, browser, "learner-5", [LEARNER], custom={"exercise": "mini-block"}, lineitem=item["id"])
    submission = submit(browser, "mini-block", "answer\n")
    grade_queued(FixedScoreGrader(6, provisional=True))
    passback.passback_drain()
    [pending] = platform.scores_for(item["id"])
    assert pending["gradingProgress"] == "PendingManual" and "scoreGiven" not in pending
    assert pending["scoreMaximum"] == 10.0 and pending["activityProgress"] == "Completed"

    # The instructor's review (an override) makes it final: now the score goes.
    teacher = launch(platform, type(browser)(browser.tool_url), "teacher-2", [INSTRUCTOR])
    grade_override(submission=submission, actor=teacher, score=8, reason="reviewed")
    passback.passback_drain()
    final = platform.scores_for(item["id"])[-1]
    assert final["gradingProgress"] == "FullyGraded" and final["scoreGiven"] == 8.0
    assert Passback.objects.get(user=student).sent_version == Passback.objects.get(user=student).version


def test_passback_is_retried_with_back_off_until_the_platform_is_back(platform, browser, queued_tasks, settings):
    settings.LTI_PASSBACK_BACKOFF_S = 30
    item = platform.add_lineitem(label="A mini block", score_maximum=10)
    student = launch(platform, browser, "learner-6", [LEARNER], custom={"exercise": "mini-block"}, lineitem=item["id"])
    platform.down = True
    submit(browser, "mini-block", "w = x + x\n")
    grade_queued(StandInGrader())
    assert passback.passback_drain() == {"due": 1, "sent": 0, "failed": 1}
    row = Passback.objects.get(user=student)
    assert row.pending and row.failures == 1 and "503" in row.last_error
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=25)  # backing off, not hammering
    assert passback.passback_drain() == {"due": 0, "sent": 0, "failed": 0}

    # Still down at the next try: the wait doubles.
    Passback.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    assert passback.passback_drain()["failed"] == 1
    row.refresh_from_db()
    assert row.failures == 2 and row.next_attempt_at > timezone.now() + timedelta(seconds=55)

    # A grade change while it is down still ends in one row (the newest grade is what goes).
    teacher = launch(platform, type(browser)(browser.tool_url), "teacher-3", [INSTRUCTOR])
    grade_override(submission=Submission.objects.get(user=student), actor=teacher, score=9, reason="bonus")
    platform.down = False
    assert passback.passback_drain() == {"due": 1, "sent": 1, "failed": 0}
    assert [(s["scoreGiven"], s["gradingProgress"]) for s in platform.scores_for(item["id"])] == [(9.0, "FullyGraded")]
    row.refresh_from_db()
    assert not row.pending and row.failures == 0 and row.last_error == ""


def test_no_passback_for_courses_or_users_that_did_not_come_from_lti(platform, queued_tasks, module_course):
    from django.contrib.auth import get_user_model

    from courseapp.services import submission_create

    user = get_user_model().objects.create_user("local", password="pw-local-1")
    Enrolment.objects.create(user=user, course=module_course, role=Enrolment.Role.STUDENT)
    submission_create(user=user, exercise=module_course.exercises.get(slug="mini-block"), source="a = x + x\n")
    grade_queued(StandInGrader())
    assert not Passback.objects.exists()
    assert not any(kind == "passback" for kind, _ in queued_tasks)


def test_a_provisional_attempt_after_a_counted_grade_leaves_that_grade_final(platform, browser, queued_tasks):
    item = platform.add_lineitem(label="A mini block", score_maximum=10)
    launch(platform, browser, "learner-7", [LEARNER], custom={"exercise": "mini-block"}, lineitem=item["id"])
    submit(browser, "mini-block", "first answer\n")
    grade_queued(FixedScoreGrader(6))
    submit(browser, "mini-block", "second answer\n")
    grade_queued(FixedScoreGrader(6, provisional=True))  # same score, but waiting for review
    passback.passback_drain()
    last = platform.scores_for(item["id"])[-1]
    assert last["gradingProgress"] == "FullyGraded" and last["scoreGiven"] == 6.0

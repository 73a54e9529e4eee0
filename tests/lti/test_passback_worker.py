"""Grade passback through a real Celery worker (the maintenance queue, over Redis, on the test
Postgres database): the platform is down when the grade arrives, the worker's sends fail and are
retried with back-off, and the score arrives once the platform is back; a later override follows."""

from __future__ import annotations

import time

import pytest

from courseapp.lti.models import Passback
from tests.conftest import start_celery_worker
from tests.lti.platform import INSTRUCTOR, LEARNER
from tests.lti.test_passback import grade_queued, launch, submit

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def maintenance_worker(services_or_skip, django_db_setup, django_db_blocker, tmp_path_factory):
    """`celery -A courseapp worker -Q maintenance` (what the beat service runs), with short back-off."""
    from django.conf import settings

    env = {"LTI_PASSBACK_BACKOFF_S": "1", "LTI_PASSBACK_BACKOFF_MAX_S": "2"}
    var_dir = tmp_path_factory.mktemp("lti-worker-var")
    with start_celery_worker(settings.MAINTENANCE_QUEUE, "lti-test-worker", var_dir=var_dir, env=env) as proc:
        yield proc


def wait_until(check, worker, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail("timed out; worker log:\n" + worker.log_path.read_text(errors="replace")[-4000:])


def test_worker_retries_the_passback_until_the_platform_is_back(maintenance_worker, platform, browser, monkeypatch):
    from courseapp.services.instructor import grade_override
    from tests.conftest import StandInGrader, capture_grading_sends

    # Grading runs here in the test (stand-in grader); only the passback goes through the worker.
    capture_grading_sends(monkeypatch, lambda args, options: None)
    item = platform.add_lineitem(label="A mini block", score_maximum=10)
    student = launch(platform, browser, "learner-1", [LEARNER], custom={"exercise": "mini-block"}, lineitem=item["id"])

    platform.down = True
    submission = submit(browser, "mini-block", "y = x + x\n")
    grade_queued(StandInGrader())
    row = wait_until(lambda: Passback.objects.filter(user=student, failures__gte=2).first(), maintenance_worker)
    assert row.pending and "503" in row.last_error and platform.scores_for(item["id"]) == []

    platform.down = False  # back after a while: the next retry gets through
    wait_until(lambda: platform.scores_for(item["id"]), maintenance_worker)
    assert [(s["scoreGiven"], s["userId"]) for s in platform.scores_for(item["id"])] == [(10.0, "learner-1")]
    wait_until(lambda: not Passback.objects.get(pk=row.pk).pending, maintenance_worker)

    teacher = launch(platform, type(browser)(browser.tool_url), "teacher-1", [INSTRUCTOR])
    grade_override(submission=submission, actor=teacher, score=6.5, reason="style")
    wait_until(lambda: len(platform.scores_for(item["id"])) == 2, maintenance_worker)
    assert platform.scores_for(item["id"])[-1]["scoreGiven"] == 6.5
    assert "lti.passback_send" in maintenance_worker.log_path.read_text()

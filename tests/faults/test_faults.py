"""Faults with a real Celery worker, a private Redis and a private Postgres: every submission ends
graded exactly once (one Result per job, every job done) within 2 minutes."""

import time

import pytest

from courseapp.models import GradingJob
from tests.conftest import IDENTITY_CORRECT, IDENTITY_NO_SHORTCUT
from tests.faults.conftest import SLOW_CORRECT

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def _wait_running(job_submission_id: int, timeout: float = 60) -> GradingJob:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = GradingJob.objects.get(submission_id=job_submission_id)
        if job.status == GradingJob.Status.RUNNING:
            return job
        time.sleep(0.1)
    pytest.fail("the slow submission never started grading")


def test_a_worker_killed_mid_grade_loses_nothing(fault_world):
    w = fault_world
    worker = w.start_worker()
    ada = w.student("ada")
    slow = w.submit(ada, SLOW_CORRECT)
    others = [w.submit(ada, IDENTITY_NO_SHORTCUT), w.submit(ada, IDENTITY_CORRECT)]
    _wait_running(slow.pk)
    time.sleep(1.0)  # inside the 3 s sleep in forward
    worker.kill()  # kill -9: no ack, no cleanup, the message stays unacked in Redis
    job = GradingJob.objects.get(submission_id=slow.pk)
    assert job.status == GradingJob.Status.RUNNING
    w.start_worker()
    jobs = w.wait_all_graded_once([slow.pk] + [s.pk for s in others])
    assert jobs[slow.pk].attempts == 2  # the lost attempt plus the one that finished
    assert jobs[slow.pk].result.full_marks


def test_redis_stopped_with_jobs_queued_loses_nothing(fault_world):
    w = fault_world
    bea = w.student("bea")
    w.start_worker()
    subs = [w.submit(bea, SLOW_CORRECT)] + [w.submit(bea, src) for src in (IDENTITY_CORRECT, IDENTITY_NO_SHORTCUT) * 2]
    _wait_running(subs[0].pk)
    w.redis.stop()  # every queued message is lost (no persistence)
    queued_while_down = w.submit(bea, IDENTITY_CORRECT)  # the enqueue fails; the row is committed
    time.sleep(2)
    w.redis.start()  # empty
    jobs = w.wait_all_graded_once([s.pk for s in subs + [queued_while_down]])
    assert all(j.status == "done" for j in jobs.values())


def test_postgres_restarted_during_grading_loses_nothing(fault_world):
    w = fault_world
    cy = w.student("cy")
    w.start_worker()
    subs = [w.submit(cy, SLOW_CORRECT)] + [w.submit(cy, src) for src in (IDENTITY_NO_SHORTCUT, IDENTITY_CORRECT)]
    _wait_running(subs[0].pk)
    from django import db

    db.connections["default"].close()
    w.pg.stop("fast")  # terminates every connection, the worker's included
    time.sleep(3)  # the slow grade finishes while the database is down
    w.pg.start()
    jobs = w.wait_all_graded_once([s.pk for s in subs])
    assert jobs[subs[0].pk].result.full_marks

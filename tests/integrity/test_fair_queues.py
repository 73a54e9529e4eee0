"""Fair, bounded queues (issue 12): per-student limits at the door (one job in flight per exercise
and a per-minute rate, by default; per course and per exercise configurable), and a queue order in
which a student with many jobs never delays another student's first one."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from courseapp import services
from courseapp.models import Enrolment, ExercisePolicy, GradingJob, Submission
from courseapp.services import fairness
from tests.conftest import StandInGrader

CODE = "return x + x"


@pytest.fixture(autouse=True)
def default_limits(settings):
    """The service's defaults (scripts/test.sh turns them off for the rest of the suite)."""
    settings.GRADING_MAX_IN_FLIGHT = 1
    settings.GRADING_MAX_PER_MINUTE = 6


def test_the_service_defaults_to_one_job_in_flight_and_six_a_minute():
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADING_MAX_")}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.GRADING_MAX_IN_FLIGHT, s.GRADING_MAX_PER_MINUTE)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.split()[-2:] == ["1", "6"], out.stderr[-2000:]


@pytest.fixture
def sent(monkeypatch):
    """What is sent to Celery (queue, priority per job id), captured instead of reaching a broker
    (the sends run on commit: tests that read them commit with django_capture_on_commit_callbacks)."""
    from courseapp.celery import app

    calls: list[dict] = []

    def send_task(name, args=None, queue=None, priority=None, **kw):
        calls.append({"job": args[0], "queue": queue, "priority": priority})

    monkeypatch.setattr(app, "send_task", send_task)
    return calls


def _submit(user, exercise):
    return services.submission_create(user=user, exercise=exercise, source=CODE)


def _finish(sub):
    services.grading_job_run(sub.jobs.get().pk, grader=StandInGrader())


def test_by_default_one_job_in_flight_per_student_and_exercise(world, sent, settings):
    first = _submit(world.alice, world.code)
    with pytest.raises(ValidationError, match="still being graded"):
        _submit(world.alice, world.code)
    _submit(world.bob, world.code)  # another student is not held up
    _submit(world.alice, world.text)  # nor is another exercise
    _finish(first)
    _submit(world.alice, world.code)  # feedback is in: the next one is accepted


def test_the_page_says_which_limit_applies(client, world, sent):
    client.force_login(world.alice)
    url = reverse("exercise-detail", args=[world.code.slug])
    assert client.post(url, {"source": CODE}).status_code == 302
    response = client.post(url, {"source": CODE})
    assert response.status_code == 400
    assert "still being graded" in response.content.decode()
    assert Submission.objects.filter(user=world.alice).count() == 1
    page = client.get(url, follow=True).content.decode()  # the course's own page
    assert "Your submission is being graded: you can submit again as soon as its feedback is in." in page


def test_instructors_set_the_limits_per_exercise(client, world, sent):
    teacher = get_user_model().objects.create_user("teach", password="pw-t-1")
    Enrolment.objects.create(user=teacher, course=world.course, role=Enrolment.Role.INSTRUCTOR)
    client.force_login(teacher)
    url = reverse("instructor-exercise", args=[world.course.slug, world.code.slug])
    assert client.post(url, {"max_in_flight": "-1"}).status_code == 400
    assert client.post(url, {"max_in_flight": "2", "max_per_minute": "0"}).status_code == 302
    assert fairness.queue_limits(world.code) == fairness.QueueLimits(max_in_flight=2, max_per_minute=0)


def test_a_per_minute_rate_per_exercise(world, sent, settings):
    settings.GRADING_MAX_IN_FLIGHT = 0
    settings.GRADING_MAX_PER_MINUTE = 3
    for _ in range(3):
        _submit(world.alice, world.code)
    with pytest.raises(ValidationError, match="submitted 3 times in the last minute"):
        _submit(world.alice, world.code)
    Submission.objects.filter(user=world.alice).update(created_at=timezone.now() - timedelta(seconds=61))
    _submit(world.alice, world.code)


def test_limits_are_configurable_per_course_and_per_exercise(world, sent, settings):
    settings.GRADING_MAX_IN_FLIGHT = 1
    world.course.max_in_flight = 3
    world.course.save()
    for _ in range(3):
        _submit(world.alice, world.code)
    with pytest.raises(ValidationError):
        _submit(world.alice, world.code)
    ExercisePolicy.objects.create(exercise=world.code, max_in_flight=0, max_per_minute=0)  # exercise: no limit
    for _ in range(5):
        _submit(world.alice, world.code)
    assert fairness.queue_limits(world.text).max_in_flight == 3  # the course's, for the other exercise


def test_a_students_flood_never_delays_another_students_first_job(
    world, sent, settings, django_capture_on_commit_callbacks
):
    settings.GRADING_MAX_IN_FLIGHT = 0
    settings.GRADING_MAX_PER_MINUTE = 0
    with django_capture_on_commit_callbacks(execute=True):
        flood = [_submit(world.alice, world.code) for _ in range(12)]
        other = _submit(world.bob, world.code)
    priority = {c["job"]: c["priority"] for c in sent}
    flood_p = [priority[s.jobs.get().pk] for s in flood]
    assert flood_p == [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8]
    assert priority[other.jobs.get().pk] == 0  # ahead of every queued flood job but the first


def test_regrade_jobs_queue_behind_students_own_submissions(world, sent, settings, django_capture_on_commit_callbacks):
    from courseapp.services import regrade

    sub = _submit(world.alice, world.code)
    _finish(sub)
    teacher = get_user_model().objects.create_user("teach", password="pw-t-1")
    Enrolment.objects.create(user=teacher, course=world.course, role=Enrolment.Role.INSTRUCTOR)
    # a new revision to regrade against
    (world.root / "mini-block" / "prompt.md").write_text("# Mini block, v2\n")
    services.exercise_sync(world.root, grader=StandInGrader())
    world.code.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        regrade.regrade_start(exercise=world.code, actor=teacher)
    job = GradingJob.objects.filter(regrade__isnull=False).get()
    assert {c["job"]: c["priority"] for c in sent}[job.pk] == fairness.REGRADE_PRIORITY


def test_redis_serves_the_priorities_in_order(settings):
    """The broker settings really order a queue by priority (a private queue on the test Redis)."""
    from kombu import Connection, Exchange, Queue

    from courseapp.celery import app

    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("priorities need the Redis broker")
    name = f"fairness-test-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    with Connection(settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as conn:
        producer = conn.Producer()
        order = [("flood-1", 0), ("flood-2", 1), ("flood-3", 2), ("flood-4", 3), ("other-1", 0), ("regrade", 9)]
        for body, priority in order:
            producer.publish(body, exchange=queue.exchange, routing_key=name, declare=[queue], priority=priority)
        got = []
        with conn.SimpleQueue(queue) as q:
            for _ in order:
                msg = q.get(timeout=5)
                got.append(msg.payload)
                msg.ack()
            q.queue.delete()
    assert got == ["flood-1", "other-1", "flood-2", "flood-3", "flood-4", "regrade"]
    assert app.conf.broker_transport_options["priority_steps"] == list(range(10))

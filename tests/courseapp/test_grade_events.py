"""final_grade_changed is sent once the write commits: a graded result, an override (a regrade's
result: test_regrade); a receiver that raises does not fail the write; a rollback sends nothing."""

import pytest
from django.db import transaction

from courseapp import services
from courseapp.services.instructor import grade_override
from courseapp.signals import final_grade_changed
from tests.conftest import StandInGrader
from tests.courseapp.instructor_helpers import OK_SRC, graded, make_instructor

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    seen: list[tuple[int, int, str]] = []

    def receiver(sender, user_id, exercise_id, reason, **kwargs):
        seen.append((user_id, exercise_id, reason))

    final_grade_changed.connect(receiver)
    yield seen
    final_grade_changed.disconnect(receiver)


def test_a_recorded_result_sends_graded_after_commit(world, enqueued, received, django_capture_on_commit_callbacks):
    sub = services.submission_create(user=world.alice, exercise=world.code, source=OK_SRC)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.grading_job_run(sub.latest_job.pk, grader=StandInGrader())
    assert received == []  # nothing before the commit
    for cb in callbacks:
        cb()
    assert received == [(world.alice.pk, world.code.pk, "graded")]


def test_an_override_sends_override_and_a_rollback_sends_nothing(world, received, django_capture_on_commit_callbacks):
    sub = graded(world.alice, world.code, ok=False)
    prof = make_instructor(world.course)
    with django_capture_on_commit_callbacks(execute=True):
        grade_override(submission=sub, actor=prof, score=7, reason="partial credit")
    assert received == [(world.alice.pk, world.code.pk, "override")]
    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            grade_override(submission=sub, actor=prof, score=8, reason="again")
            raise RuntimeError("rolled back")
    assert received == []


def test_a_receiver_that_raises_does_not_fail_the_grade(world, enqueued, django_capture_on_commit_callbacks, caplog):
    def broken(sender, **kwargs):
        raise ValueError("passback is down")

    final_grade_changed.connect(broken)
    try:
        sub = services.submission_create(user=world.alice, exercise=world.code, source=OK_SRC)
        with django_capture_on_commit_callbacks(execute=True):
            services.grading_job_run(sub.latest_job.pk, grader=StandInGrader())
    finally:
        final_grade_changed.disconnect(broken)
    assert sub.current_result is not None and "passback is down" in caplog.text

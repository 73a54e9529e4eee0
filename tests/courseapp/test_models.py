import pytest
from django.db import IntegrityError

from courseapp.models import Enrolment, GradingJob, ImmutableRowError, InvalidTransition, Result, Submission

S = GradingJob.Status


@pytest.fixture
def job(world):
    sub = Submission.objects.create(user=world.alice, revision=world.code.current_revision, source="x = 1\n")
    return GradingJob.objects.create(submission=sub, revision=sub.revision)


def test_transition_table_is_the_one_place_of_truth():
    assert GradingJob.TRANSITIONS[S.QUEUED] == {S.RUNNING, S.FAILED}
    assert GradingJob.TRANSITIONS[S.RUNNING] == {S.RUNNING, S.QUEUED, S.DONE, S.FAILED}
    assert GradingJob.TRANSITIONS[S.DONE] == set()
    assert GradingJob.TRANSITIONS[S.FAILED] == set()


def test_happy_path_stamps_each_phase(job):
    assert job.status == S.QUEUED and job.attempts == 0 and job.queued_at is not None
    job.transition(S.RUNNING)
    assert job.attempts == 1 and job.started_at is not None and job.finished_at is None
    job.transition(S.DONE)
    assert job.finished_at >= job.started_at >= job.queued_at
    job.save()
    job.refresh_from_db()
    assert job.status == S.DONE and job.is_finished


@pytest.mark.parametrize(
    "path",
    [
        [S.DONE],
        [S.QUEUED],
        [S.RUNNING, S.DONE, S.RUNNING],
        [S.RUNNING, S.DONE, S.FAILED],
        [S.FAILED, S.QUEUED],
        [S.FAILED, S.RUNNING],
    ],
)
def test_disallowed_transitions_raise(job, path):
    with pytest.raises(InvalidTransition):
        for status in path:
            job.transition(status)


def test_retry_paths_count_attempts(job):
    job.transition(S.RUNNING)
    job.transition(S.QUEUED, error="grading delayed")
    assert job.error == "grading delayed"
    job.transition(S.RUNNING)
    job.transition(S.RUNNING)  # redelivered after a lost worker
    assert job.attempts == 3 and job.error == ""
    job.transition(S.FAILED, error="gave up")
    assert job.status == S.FAILED and job.error == "gave up"


def test_submission_is_immutable(world):
    sub = Submission.objects.create(user=world.alice, revision=world.code.current_revision, source="a = 1\n")
    sub.source = "a = 2\n"
    with pytest.raises(ImmutableRowError):
        sub.save()
    sub.refresh_from_db()
    assert sub.source == "a = 1\n"


def test_result_is_append_only(job):
    result = Result.objects.create(job=job, score=1, max_score=10, status="graded", outcome="wrong")
    result.score = 10
    with pytest.raises(ImmutableRowError):
        result.save()
    with pytest.raises(IntegrityError):
        Result.objects.create(job=job, score=2, max_score=10, status="graded", outcome="wrong")


def test_one_enrolment_per_user_and_course(world):
    with pytest.raises(IntegrityError):
        Enrolment.objects.create(user=world.alice, course=world.course, role=Enrolment.Role.INSTRUCTOR)

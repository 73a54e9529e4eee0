"""The reconciler: nothing lost (stale jobs are re-sent), nothing graded twice (duplicates are
no-ops), and a retry cap that ends with a clear message instead of a spinner."""

import math
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from courseapp import services
from courseapp.models import GradingJob, Result, Submission
from courseapp.services.jobs import job_deadline_s
from courseapp.services.reconcile import reconcile_jobs
from courseapp.tasks import grade_submission
from tests.conftest import StandInGrader

S = GradingJob.Status
GOOD = "class Mini:\n    def forward(self, x):\n        return x + x\n"


@pytest.fixture
def job(world, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sub = services.submission_create(user=world.alice, exercise=world.code, source=GOOD)
    enqueued.clear()
    return sub.latest_job


def _age(job, **fields):
    GradingJob.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


def test_a_fresh_queued_or_running_job_is_left_alone(job, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_jobs().total == 0
    _age(job, status=S.RUNNING, attempts=1, started_at=timezone.now() - timedelta(seconds=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_jobs().total == 0
    assert enqueued == []


def test_a_running_job_past_its_deadline_is_requeued_and_resent(job, enqueued, django_capture_on_commit_callbacks):
    deadline = job_deadline_s(job)
    # the revision's wall limit (derived from its reference's cost at sync) -> soft -> hard, plus the grace
    assert deadline == math.ceil(job.revision.wall_s) + 60 + 30 + 30
    _age(job, status=S.RUNNING, attempts=1, started_at=timezone.now() - timedelta(seconds=deadline + 1))
    with django_capture_on_commit_callbacks(execute=True):
        report = reconcile_jobs()
    assert report.requeued_running == [job.pk]
    job.refresh_from_db()
    assert job.status == S.QUEUED and "retry" in job.error
    assert [m["args"] for m in enqueued] == [[job.pk]]
    # the re-sent message grades it once
    services.grading_job_run(job.pk, grader=StandInGrader())
    job.refresh_from_db()
    assert job.status == S.DONE and Result.objects.filter(job=job).count() == 1


def test_a_job_lost_too_often_fails_with_a_clear_message(job, enqueued, settings, django_capture_on_commit_callbacks):
    settings.GRADING_MAX_ATTEMPTS = 3
    _age(job, status=S.RUNNING, attempts=3, started_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_jobs().failed == [job.pk]
    job.refresh_from_db()
    assert job.status == S.FAILED and job.finished_at
    assert "could not be graded" in job.error and "contact your instructor" in job.error
    assert enqueued == []


def test_a_queued_job_whose_message_was_lost_is_resent_once_per_period(
    job, enqueued, settings, django_capture_on_commit_callbacks
):
    settings.RECONCILE_QUEUED_AFTER_S = 60
    _age(job, queued_at=timezone.now() - timedelta(seconds=61))
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_jobs().resent_queued == [job.pk]
        assert reconcile_jobs().total == 0  # queued_at was stamped
    assert len(enqueued) == 1
    job.refresh_from_db()
    assert job.status == S.QUEUED


def test_a_job_unfinished_for_too_long_gives_up(job, settings, django_capture_on_commit_callbacks):
    settings.RECONCILE_GIVE_UP_AFTER_S = 3600
    GradingJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_jobs().failed == [job.pk]
    job.refresh_from_db()
    assert job.status == S.FAILED and "contact your instructor" in job.error


def test_an_old_submissions_fresh_regrade_job_is_not_given_up(
    job, settings, enqueued, django_capture_on_commit_callbacks
):
    """The give-up clock runs from when the grading was asked for, not from the submission."""
    from courseapp.models import Regrade
    from courseapp.services.jobs import jobs_create_for_regrade

    settings.RECONCILE_GIVE_UP_AFTER_S = 3600
    services.grading_job_run(job.pk, grader=StandInGrader())
    Submission.objects.filter(pk=job.submission_id).update(created_at=timezone.now() - timedelta(days=2))
    regrade = Regrade.objects.create(exercise=job.revision.exercise, revision=job.revision)
    [again] = jobs_create_for_regrade([job.submission], regrade)
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_jobs().total == 0
    again.refresh_from_db()
    assert again.status == S.QUEUED


def test_finished_jobs_are_never_touched(job, django_capture_on_commit_callbacks):
    services.grading_job_run(job.pk, grader=StandInGrader())
    Submission.objects.filter(pk=job.submission_id).update(created_at=timezone.now() - timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert reconcile_jobs().total == 0
    job.refresh_from_db()
    assert job.status == S.DONE


def test_a_duplicate_message_for_a_job_being_graded_is_a_no_op(job):
    _age(job, status=S.RUNNING, attempts=1, started_at=timezone.now())
    grader = StandInGrader()
    services.grading_job_run(job.pk, grader=grader)
    job.refresh_from_db()
    assert grader.calls == [] and job.status == S.RUNNING and job.attempts == 1


def test_a_redelivery_after_a_lost_worker_takes_the_job_over(job):
    _age(job, status=S.RUNNING, attempts=1, started_at=timezone.now())
    services.grading_job_run(job.pk, grader=StandInGrader(), redelivered=True)
    job.refresh_from_db()
    assert job.status == S.DONE and job.attempts == 2


def test_duplicate_deliveries_of_a_finished_job_grade_nothing(job):
    services.grading_job_run(job.pk, grader=StandInGrader())
    for redelivered in (False, True):
        grader = StandInGrader()
        services.grading_job_run(job.pk, grader=grader, redelivered=redelivered)
        assert grader.calls == []
    assert Result.objects.filter(job=job).count() == 1


def test_the_database_refuses_a_second_result_for_a_job(job):
    services.grading_job_run(job.pk, grader=StandInGrader())
    with pytest.raises(IntegrityError), transaction.atomic():
        Result.objects.create(job=job, score=0, max_score=10, status="graded", outcome="wrong")


def test_the_task_passes_the_redelivered_flag(job, monkeypatch):
    from courseapp import tasks

    seen = []
    monkeypatch.setattr(tasks, "grading_job_run", lambda job_id, redelivered: seen.append((job_id, redelivered)))
    grade_submission.apply(args=[job.pk])
    assert seen == [(job.pk, False)]


def test_the_management_command_reconciles(job, enqueued, capsys, django_capture_on_commit_callbacks):
    _age(job, status=S.RUNNING, attempts=1, started_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("reconcile_jobs")
    assert "re-sent running: 1" in capsys.readouterr().out
    assert len(enqueued) == 1


def test_the_reconciler_runs_periodically_on_its_own_queue(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["reconcile-grading-jobs"]
    assert entry["task"] == "courseapp.reconcile_jobs" and entry["schedule"] == settings.RECONCILE_INTERVAL_S
    assert settings.CELERY_TASK_ROUTES["courseapp.reconcile_jobs"]["queue"] == settings.MAINTENANCE_QUEUE
    from courseapp.tasks import reconcile_jobs as task

    assert task.name == "courseapp.reconcile_jobs"


def test_a_maintenance_only_worker_needs_no_sandbox():
    from types import SimpleNamespace

    from courseapp.celery import _consumes_grading_queues

    def sender(*queues):
        return SimpleNamespace(
            app=SimpleNamespace(
                amqp=SimpleNamespace(queues=SimpleNamespace(consume_from={q: object() for q in queues}))
            )
        )

    assert _consumes_grading_queues(sender("maintenance")) is False
    assert _consumes_grading_queues(sender("grade.cpu")) is True
    assert _consumes_grading_queues(sender("grade.gpu", "maintenance")) is True
    assert _consumes_grading_queues(sender()) is True  # all queues

import pytest
from billiard.exceptions import WorkerLostError
from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import PermissionDenied, ValidationError

from courseapp import services
from courseapp.models import Exercise, ExerciseRevision, GradingJob, Result, Submission
from courseapp.services import grader_runtime
from courseapp.tasks import grade_submission
from tests.conftest import StandInGrader

S = GradingJob.Status
GOOD = "class Mini:\n    def forward(self, x):\n        return x + x\n"
BAD = "class Mini:\n    def forward(self, x):\n        return x\n"


def test_submission_create_writes_both_rows_and_enqueues_after_commit(
    world, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sub = services.submission_create(user=world.alice, exercise=world.code, source=GOOD)
        assert enqueued == []  # nothing is sent before the transaction commits
    assert sub.revision == world.code.current_revision and sub.source == GOOD
    assert sub.latest_job.status == S.QUEUED and sub.latest_job.attempts == 0 and sub.latest_job.queue == "grade.cpu"
    for cb in callbacks:
        cb()
    # the mini revision's wall limit is derived at sync: its reference costs 0.5 s, 10 x that = 5 s; soft 5 + 60, hard 65 + 30
    assert enqueued == [{"args": [sub.latest_job.pk], "queue": "grade.cpu", "countdown": None, "limits": (65, 95)}]


def test_gpu_exercises_go_to_the_gpu_queue(world, enqueued, django_capture_on_commit_callbacks, settings):
    settings.GRADING_QUEUES = {"cpu": "grade.cpu", "gpu": "grade.gpu"}  # GRADING_GPU_WORKERS=1
    Exercise.objects.filter(pk=world.code.pk).update(queue="gpu")
    world.code.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        sub = services.submission_create(user=world.alice, exercise=world.code, source=GOOD)
    assert sub.latest_job.queue == "grade.gpu"
    assert enqueued[0]["queue"] == "grade.gpu"


def test_without_gpu_workers_gpu_exercises_are_graded_on_the_cpu_queue(world, enqueued, settings):
    assert settings.GRADING_GPU_WORKERS is False and settings.GRADING_QUEUES["gpu"] == "grade.cpu"
    Exercise.objects.filter(pk=world.code.pk).update(queue="gpu")
    world.code.refresh_from_db()
    assert (
        services.submission_create(user=world.alice, exercise=world.code, source=GOOD).latest_job.queue == "grade.cpu"
    )


def test_time_limits_follow_the_exercise_and_always_nest(world, enqueued, django_capture_on_commit_callbacks):
    ExerciseRevision.objects.filter(pk=world.code.current_revision_id).update(wall_s=150.5)
    world.code.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.submission_create(user=world.alice, exercise=world.code, source=GOOD)
    soft, hard = enqueued[0]["limits"]
    assert 150.5 < soft < hard and (soft, hard) == (211, 241)


@pytest.mark.parametrize(
    "source, message",
    [
        ("   \n", "empty"),
        ("x" * (64 * 1024 + 1), "limit is 65536 bytes"),
    ],
)
def test_submission_create_refuses_bad_input_and_writes_nothing(world, enqueued, source, message):
    with pytest.raises(ValidationError, match=message):
        services.submission_create(user=world.alice, exercise=world.code, source=source)
    assert Submission.objects.count() == 0 and GradingJob.objects.count() == 0


def test_freetext_answers_are_limited_in_characters(world, enqueued):
    with pytest.raises(ValidationError, match="limit is 300"):
        services.submission_create(user=world.alice, exercise=world.text, source="é" * 301)
    services.submission_create(user=world.alice, exercise=world.text, source="é" * 300)


def test_only_enrolled_users_can_submit(world, enqueued):
    with pytest.raises(PermissionDenied):
        services.submission_create(user=world.outsider, exercise=world.code, source=GOOD)
    assert Submission.objects.count() == 0


@pytest.fixture
def queued(world, enqueued):
    def make(source=GOOD, user=None):
        return services.submission_create(user=user or world.alice, exercise=world.code, source=source).latest_job

    return make


def test_run_records_the_result_and_is_idempotent(queued):
    job = queued(BAD)
    grader = StandInGrader()
    services.grading_job_run(job.pk, grader=grader)
    job.refresh_from_db()
    assert job.status == S.DONE and job.attempts == 1 and job.started_at and job.finished_at
    result = job.result
    assert (result.score, result.max_score, result.status, result.outcome) == (2.0, 10.0, "graded", "wrong")
    assert result.misconceptions == ["shortcut_missing"]
    assert [t["status"] for t in result.tests] == ["passed", "failed"]
    assert result.execution["device"] == "cpu"
    assert grader.calls == [("mini-block", BAD.encode())]

    services.grading_job_run(job.pk, grader=grader)  # a duplicate message changes nothing
    assert len(grader.calls) == 1 and Result.objects.count() == 1


def test_run_of_a_missing_job_is_dropped(db):
    grader = StandInGrader()
    services.grading_job_run(987654, grader=grader)
    assert grader.calls == [] and not GradingJob.objects.exists()


def test_infrastructure_failure_retries_with_backoff_then_fails(
    queued, settings, enqueued, django_capture_on_commit_callbacks
):
    settings.GRADING_MAX_ATTEMPTS = 2
    settings.GRADING_RETRY_BACKOFF_S = 3
    job = queued()
    broken = StandInGrader(fail_with=OSError("sandbox pool unavailable"))
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.grading_job_run(job.pk, grader=broken)
    job.refresh_from_db()
    assert job.status == S.QUEUED and job.attempts == 1
    assert "Grading delayed" in job.error and "sandbox pool unavailable" in job.error
    assert enqueued == [{"args": [job.pk], "queue": "grade.cpu", "countdown": 3, "limits": (65, 95)}]

    with django_capture_on_commit_callbacks(execute=True):
        services.grading_job_run(job.pk, grader=broken)
    job.refresh_from_db()
    assert job.status == S.FAILED and job.attempts == 2 and job.finished_at
    assert "after 2 attempt(s)" in job.error and "OSError: sandbox pool unavailable" in job.error
    assert len(enqueued) == 1 and not Result.objects.exists()


def test_a_job_redelivered_too_often_after_worker_loss_fails(queued, settings):
    settings.GRADING_MAX_ATTEMPTS = 2
    job = queued()
    GradingJob.objects.filter(pk=job.pk).update(status=S.RUNNING, attempts=2)
    grader = StandInGrader()
    services.grading_job_run(job.pk, grader=grader)
    job.refresh_from_db()
    assert job.status == S.FAILED and "worker was lost" in job.error and grader.calls == []


def test_a_redelivered_running_job_is_retried_while_attempts_remain(queued):
    job = queued()
    GradingJob.objects.filter(pk=job.pk).update(status=S.RUNNING, attempts=1)
    services.grading_job_run(job.pk, grader=StandInGrader())
    job.refresh_from_db()
    assert job.status == S.DONE and job.attempts == 2 and job.result.score == 10


def test_grades_against_the_submissions_revision_not_the_folder_on_disk(world, queued):
    job = queued()
    (world.root / "mini-block" / "checks.py").write_text("raise SystemExit('the folder moved on')\n")
    grader = StandInGrader()
    services.grading_job_run(job.pk, grader=grader)
    job.refresh_from_db()
    assert job.status == S.DONE
    folder = grader_runtime.revision_folder(job.submission.revision)
    assert (folder / "checks.py").read_text() == "CHECKS = []\n"
    assert (folder.parent / "misconceptions.toml").is_file()


def test_task_runs_the_service_with_the_process_grader(queued, monkeypatch):
    job = queued()
    grader = StandInGrader()
    monkeypatch.setattr(grader_runtime, "_grader", grader)
    grade_submission.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.status == S.DONE and len(grader.calls) == 1


def test_task_options():
    assert grade_submission.acks_late is True
    assert grade_submission.reject_on_worker_lost is True
    assert grade_submission.ignore_result is True
    assert grade_submission.soft_time_limit < grade_submission.time_limit


def test_time_limit_marks_the_job_failed_without_retry(queued):
    job = queued()
    GradingJob.objects.filter(pk=job.pk).update(status=S.RUNNING, attempts=1)
    grade_submission.on_failure(SoftTimeLimitExceeded("soft"), "task-id", [job.pk], {}, None)
    job.refresh_from_db()
    assert job.status == S.FAILED and "SoftTimeLimitExceeded" in job.error


def test_lost_worker_leaves_the_job_for_redelivery(queued):
    job = queued()
    GradingJob.objects.filter(pk=job.pk).update(status=S.RUNNING, attempts=1)
    grade_submission.on_failure(WorkerLostError("killed"), "task-id", [job.pk], {}, None)
    job.refresh_from_db()
    assert job.status == S.RUNNING


def test_process_grader_is_created_once_and_closed(monkeypatch):
    made = []
    monkeypatch.setattr(grader_runtime, "_grader", None)
    monkeypatch.setattr(grader_runtime, "new_grader", lambda: made.append(StandInGrader()) or made[-1])
    first = grader_runtime.get_grader()
    assert grader_runtime.get_grader() is first and len(made) == 1
    grader_runtime.close_grader()
    assert first.closed and grader_runtime._grader is None

"""A submission posted through Django is graded by a real Celery worker process, over Redis, with
Postgres as the database (the worker reads and writes the test database from its own process)."""

import shutil

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from courseapp.models import Enrolment, Exercise, GradingJob, Submission
from courseapp.services import exercise_sync
from tests.conftest import EXERCISES, IDENTITY_BLOCK, IDENTITY_CORRECT, IDENTITY_NO_SHORTCUT, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def identity_block(tmp_path, real_grader, settings):
    root = tmp_path / "exercises"
    root.mkdir()
    shutil.copy(EXERCISES / "misconceptions.toml", root)
    shutil.copytree(IDENTITY_BLOCK, root / "identity-block", ignore=shutil.ignore_patterns("__pycache__"))
    exercise_sync(root, grader=real_grader)
    return Exercise.objects.get(slug="identity-block")


def test_posted_submission_is_graded_by_a_real_worker(celery_worker, identity_block, client, settings):
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    user = get_user_model().objects.create_user("ada", password="pw-ada-12345")
    Enrolment.objects.create(user=user, course=identity_block.course, role=Enrolment.Role.STUDENT)
    client.force_login(user)
    url = reverse("exercise-detail", args=["identity-block"])

    response = client.post(url, {"source": IDENTITY_NO_SHORTCUT})
    assert response.status_code == 302
    wrong = Submission.objects.get()
    job = wait_for_job(wrong.pk, worker=celery_worker)
    assert job.status == GradingJob.Status.DONE, job.error
    assert job.attempts == 1 and job.queued_at <= job.started_at <= job.finished_at
    result = job.result
    assert result.status == "graded" and result.score < result.max_score
    assert "shortcut_missing" in result.misconceptions
    status = client.get(reverse("submission-status", args=[wrong.pk])).json()
    assert status["state"] == "graded" and status["score"] == result.score
    fragment = client.get(status["feedback_url"]).content.decode()
    assert "The shortcut (skip connection) is missing" in fragment

    client.post(url, {"source": IDENTITY_CORRECT})
    right = Submission.objects.exclude(pk=wrong.pk).get()
    job = wait_for_job(right.pk, worker=celery_worker)
    assert job.status == GradingJob.Status.DONE, job.error
    assert job.result.full_marks and job.result.outcome == "ok"
    assert job.result.execution["wall_s"] > 0

    listing = client.get(reverse("exercise-list")).content.decode()
    assert "10 / 10" in listing


def test_a_job_for_a_missing_row_is_dropped_and_the_worker_carries_on(celery_worker, identity_block, client):
    from courseapp.tasks import grade_submission

    grade_submission.apply_async(args=[999_999], queue="grade.cpu")
    user = get_user_model().objects.create_user("bea", password="pw-bea-12345")
    Enrolment.objects.create(user=user, course=identity_block.course, role=Enrolment.Role.STUDENT)
    client.force_login(user)
    client.post(reverse("exercise-detail", args=["identity-block"]), {"source": "def broken(:\n"})
    job = wait_for_job(Submission.objects.get().pk, worker=celery_worker)
    assert job.status == GradingJob.Status.DONE
    assert job.result.score == 0 and job.result.outcome == "rejected" and "syntax" in job.result.output.lower()
    assert "grading job 999999 does not exist" in celery_worker.log_path.read_text()

"""Structured logs with job and submission ids; /metrics (Prometheus text) from the database,
staff or token only; /healthz."""

import json
import logging

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from courseapp import services
from courseapp.logs import ContextFilter, JsonFormatter, log_context
from courseapp.models import GradingJob
from tests.conftest import StandInGrader

GOOD = "class Mini:\n    def forward(self, x):\n        return x + x\n"
BAD = "class Mini:\n    def forward(self, x):\n        return x\n"


def _format(record_logger, msg, **extra):
    record = record_logger.makeRecord("courseapp.test", logging.INFO, __file__, 1, msg, (), None, extra=extra)
    ContextFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_json_lines_carry_extra_fields_and_the_context_ids():
    logger = logging.getLogger("courseapp.test")
    with log_context(job_id=7, submission_id=11):
        data = _format(logger, "hello %s", event="x")
    assert data["msg"] == "hello %s" or data["msg"].startswith("hello")
    assert (data["job_id"], data["submission_id"], data["event"], data["level"]) == (7, 11, "x", "INFO")
    assert "ts" in data and "logger" in data
    assert "job_id" not in _format(logger, "outside")


def test_the_settings_log_json_by_default(settings):
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "json"
    assert "context" in settings.LOGGING["handlers"]["console"]["filters"]


def test_grading_logs_carry_submission_and_job_ids(world, enqueued, caplog):
    sub = services.submission_create(user=world.alice, exercise=world.code, source=BAD)
    with caplog.at_level(logging.INFO, logger="courseapp"):
        services.grading_job_run(sub.latest_job.pk, grader=StandInGrader())
    records = [r for r in caplog.records if r.name.startswith("courseapp.services.grading")]
    events = {getattr(r, "event", None): r for r in records}
    assert {"grade_started", "grade_finished"} <= set(events)
    for r in events.values():
        assert r.job_id == sub.latest_job.pk and r.submission_id == sub.pk
    assert events["grade_finished"].outcome == "wrong"


@pytest.fixture
def graded(world, enqueued):
    done = [services.submission_create(user=world.alice, exercise=world.code, source=src) for src in (GOOD, BAD, GOOD)]
    for sub in done:
        services.grading_job_run(sub.latest_job.pk, grader=StandInGrader())
    queued = [services.submission_create(user=world.bob, exercise=world.code, source=GOOD) for _ in range(2)]
    failing = services.submission_create(user=world.bob, exercise=world.code, source=GOOD)
    GradingJob.objects.filter(pk=failing.latest_job.pk).update(status="failed")
    GradingJob.objects.filter(pk=queued[0].latest_job.pk).update(queue="grade.gpu")
    return done, queued


def _parse(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_need_staff_or_the_token(client, world, settings):
    url = reverse("metrics")
    assert client.get(url).status_code == 403
    client.force_login(world.alice)
    assert client.get(url).status_code == 403
    settings.METRICS_TOKEN = "s3cret-token"
    client.logout()
    assert client.get(url, HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get(url, HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    staff = get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 200


def test_metrics_report_queue_depth_latency_outcomes_and_failures(client, graded):
    staff = get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client.force_login(staff)
    response = client.get(reverse("metrics"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    m = _parse(response.content.decode())
    assert m['courseapp_queue_depth{queue="grade.cpu"}'] == 1
    assert m['courseapp_queue_depth{queue="grade.gpu"}'] == 1
    assert m['courseapp_jobs_running{queue="grade.cpu"}'] == 0
    assert m["courseapp_grade_latency_seconds_count"] == 3
    assert m['courseapp_grade_latency_seconds_bucket{le="+Inf"}'] == 3
    assert m['courseapp_grade_latency_seconds_bucket{le="60.0"}'] == 3
    assert m["courseapp_grade_latency_seconds_sum"] >= 0
    assert m['courseapp_grading_outcomes_total{outcome="ok"}'] == 2
    assert m['courseapp_grading_outcomes_total{outcome="wrong"}'] == 1
    assert m['courseapp_sandbox_failures_total{kind="job_failed"}'] == 1
    assert m['courseapp_sandbox_failures_total{kind="grader_error"}'] == 0


def test_gpu_memory_is_reported_when_nvidia_smi_answers(client, world, monkeypatch, tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho '0, 1024, 81920'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:" + __import__("os").environ["PATH"])
    staff = get_user_model().objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client.force_login(staff)
    m = _parse(client.get(reverse("metrics")).content.decode())
    assert m['courseapp_gpu_memory_bytes{gpu="0",kind="used"}'] == 1024 * 2**20
    assert m['courseapp_gpu_memory_bytes{gpu="0",kind="total"}'] == 81920 * 2**20


def test_healthz_answers_without_login(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200 and response.content == b"ok\n"


def test_healthz_answers_on_any_host_over_http(client, db, settings):
    settings.ALLOWED_HOSTS = ["grading.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz", HTTP_HOST="127.0.0.1:8000").status_code == 200
    assert client.get(reverse("exercise-list"), HTTP_HOST="127.0.0.1:8000").status_code == 400

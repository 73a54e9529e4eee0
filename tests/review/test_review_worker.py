"""The review's slow work through a real Celery worker process (Redis, the test Postgres): a
decision posted to the review page returns at once and its recalibration is measured by the
review.recalibrate task; the regrade report is computed by the review.regrade_report task."""

from __future__ import annotations

import time

import pytest

from courseapp.review.models import Calibration, JobStatus, RegradeReport
from tests.review.test_review import OTHER, SIMILAR, course, submit_and_grade  # noqa: F401  (course: the fixture)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def wait_for_row(model, pk: int, worker, timeout: float = 180.0):
    """Poll the row until the worker (another process) has finished it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = model.objects.get(pk=pk)
        if row.status in (JobStatus.DONE, JobStatus.FAILED):
            return row
        time.sleep(0.3)
    tail = worker.log_path.read_text(errors="replace")[-4000:]
    pytest.fail(f"{model.__name__} {pk} was not finished within {timeout:.0f} s; worker log:\n{tail}")


def test_recalibration_and_the_regrade_report_run_on_the_worker(celery_worker, course, client):  # noqa: F811
    c, exercise, prof, students = course
    subs = [submit_and_grade(s, exercise, t) for s, t in zip(students, [*SIMILAR, OTHER])]
    url = f"/instructor/{c.slug}/exercises/{exercise.slug}/review/"
    client.force_login(prof)

    assert client.post(url + "decide/", {"submission": [subs[0].pk], "band": "full", "score": "8"}).status_code == 302
    cal = wait_for_row(Calibration, Calibration.objects.get().pk, celery_worker)
    assert cal.status == JobStatus.DONE, cal.error
    assert cal.labels == 1 and not cal.applied and cal.created_by == prof

    assert client.post(url + "regrade/run/").status_code == 302
    report = wait_for_row(RegradeReport, RegradeReport.objects.get().pk, celery_worker)
    assert report.status == JobStatus.DONE, report.error
    assert (report.total, report.examined, report.exemplars) == (3, 3, 1)
    assert {ch.submission_id for ch in report.changes.all()} == {subs[1].pk, subs[2].pk}
    assert b"<strong>2</strong> of 3 graded answer(s) would change" in client.get(url + "regrade/").content

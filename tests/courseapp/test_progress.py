"""Live progress of long grades (the degradation experiment) and the training curves on the result page."""

from __future__ import annotations

from django.urls import reverse

from courseapp import charts, services
from courseapp.models import GradingJob
from tests.conftest import StandInGrader

GOOD = "class Mini:\n    def forward(self, x):\n        return x + x\n"


class CurvesGrader(StandInGrader):
    """The stand-in grade plus what the degradation checks publish: progress events and curves."""

    def __init__(self) -> None:
        super().__init__()
        self.progress_rows: list[dict] = []

    def grade(self, spec, data: bytes, progress=None, **options):
        result = super().grade(spec, data, progress=progress, **options)
        # While "running", the job row carries the latest event (what the status endpoint reads).
        self.progress_rows.append(dict(GradingJob.objects.get(submission__source=data.decode()).progress))
        result.extra = {
            "curves": {"plain": [2.3, 2.0, 1.4], "residual": [2.3, 0.9, 0.1]},
            "final_loss": {"plain": 1.4, "residual": 0.1},
        }
        return result


def test_progress_is_stored_on_the_job_while_running_and_curves_are_drawn(world, enqueued, client):
    sub = services.submission_create(user=world.alice, exercise=world.code, source=GOOD)
    grader = CurvesGrader()
    services.grading_job_run(sub.latest_job.pk, grader=grader)
    assert grader.progress_rows == [{"event": "train", "net": "plain", "step": 1, "total": 2, "loss": 2.5}]
    job = GradingJob.objects.get(pk=sub.latest_job.pk)
    assert job.result.extra["curves"]["residual"][-1] == 0.1

    client.force_login(world.alice)
    html = client.get(reverse("submission-feedback", args=[sub.pk])).content.decode()
    assert "<svg" in html and html.count("<polyline") == 2
    assert "residual net (last 0.100)" in html and "plain net (last 1.400)" in html


def test_status_endpoint_reports_progress_text_while_running(world, enqueued, client):
    sub = services.submission_create(user=world.alice, exercise=world.code, source=GOOD)
    GradingJob.objects.filter(pk=sub.latest_job.pk).update(
        status=GradingJob.Status.RUNNING,
        progress={"event": "train", "net": "residual", "step": 50, "total": 150, "loss": 0.73},
    )
    client.force_login(world.alice)
    data = client.get(reverse("submission-status", args=[sub.pk])).json()
    assert data["progress"] == "Training the residual net: step 50 of 150, loss 0.730"


def test_curves_svg_renders_numbers_only() -> None:
    svg = charts.training_curves_svg({"curves": {"<script>": [1.0, 0.5], "plain": ["x", 2.0, float("nan")]}})
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<polyline") == 2
    assert charts.training_curves_svg({}) == "" and charts.training_curves_svg({"curves": "nope"}) == ""

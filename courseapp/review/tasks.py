"""Celery edge of the free-text review: ids in, one call into courseapp.review.services. The
Calibration and RegradeReport rows are the truth, not Celery: each task claims its row (queued, or
running but lost) and does nothing otherwise, so a message delivered twice, or sent again when the
teacher asks again, costs nothing. Routed to settings.REVIEW_TASK_QUEUE (the grading workers, whose
free-text model is warm)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

# Both tasks work from a row they claim: acknowledged after the work, sent again if the worker is lost.
_ROW_TASK = {
    "ignore_result": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": settings.REVIEW_TASK_SOFT_LIMIT_S,
    "time_limit": settings.REVIEW_TASK_SOFT_LIMIT_S + 60,
}


@shared_task(
    name="review.recalibrate",
    **_ROW_TASK,
)
def recalibrate(calibration_id: int) -> None:
    from courseapp.review import services

    services.calibration_run(calibration_id)


@shared_task(
    name="review.regrade_report",
    **_ROW_TASK,
)
def regrade_report(report_id: int) -> None:
    from courseapp.review import services

    services.regrade_report_run(report_id)

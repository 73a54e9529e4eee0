"""Celery edge of the free-text review: ids in, one call into courseapp.review.services. The
Calibration and RegradeReport rows are the truth, not Celery: each task claims its row (queued, or
running but lost) and does nothing otherwise, so a message delivered twice, or sent again when the
teacher asks again, costs nothing. Routed to settings.REVIEW_TASK_QUEUE (the grading workers, whose
free-text model is warm)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(
    name="review.recalibrate",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.REVIEW_TASK_SOFT_LIMIT_S,
    time_limit=settings.REVIEW_TASK_SOFT_LIMIT_S + 60,
)
def recalibrate(calibration_id: int) -> None:
    from courseapp.review import services

    services.calibration_run(calibration_id)


@shared_task(
    name="review.regrade_report",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.REVIEW_TASK_SOFT_LIMIT_S,
    time_limit=settings.REVIEW_TASK_SOFT_LIMIT_S + 60,
)
def regrade_report(report_id: int) -> None:
    from courseapp.review import services

    services.regrade_report_run(report_id)

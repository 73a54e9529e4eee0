"""Celery edge: ids in, one call into a service. The GradingJob row is the truth, not Celery."""

from __future__ import annotations

from billiard.exceptions import WorkerLostError
from celery import Task, shared_task
from django.conf import settings

from courseapp.services.grading import grading_job_fail, grading_job_run


class GradingTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """The task itself failed (time limit, or an error outside the grader): fail the job clearly.
        A lost worker is not handled here: its message is redelivered (reject_on_worker_lost) and the
        service counts the attempt."""
        if isinstance(exc, WorkerLostError) or not args:
            return
        grading_job_fail(args[0], f"{type(exc).__name__}: {exc}", retry=False)


@shared_task(
    base=GradingTask,
    name="courseapp.grade_submission",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=settings.GRADING_SOFT_TIME_LIMIT_S,
    time_limit=settings.GRADING_HARD_TIME_LIMIT_S,
)
def grade_submission(job_id: int) -> None:
    grading_job_run(job_id)

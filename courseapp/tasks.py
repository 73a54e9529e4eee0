"""Celery edge: ids in, one call into a service. The GradingJob row is the truth, not Celery."""

from __future__ import annotations

from billiard.exceptions import WorkerLostError
from celery import Task, shared_task
from django import db

from courseapp.services.grading import grading_job_fail, grading_job_run
from courseapp.services.jobs import GRADE_TASK, job_time_limits
from courseapp.services.reconcile import reconcile_jobs as reconcile_jobs_once
from grader.exercise import Limits

DB_ERRORS = (db.OperationalError, db.InterfaceError)


class GradingTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """The task itself failed (time limit, or an error outside the grader): fail the job clearly.
        A lost worker is not handled here: its message is redelivered (reject_on_worker_lost) and the
        service counts the attempt."""
        if isinstance(exc, WorkerLostError) or not args:
            return
        try:
            grading_job_fail(args[0], f"{type(exc).__name__}: {exc}", retry=False)
        except DB_ERRORS:  # the job stays as it is; the reconciler takes it over after its deadline
            pass
        return


@shared_task(
    base=GradingTask,
    bind=True,
    name=GRADE_TASK,  # services.jobs sends it by this name
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # Defaults for a message sent without limits; services.jobs.job_enqueue sends each job's own
    # (derived from its exercise's wall limit: sandbox < soft < hard).
    soft_time_limit=job_time_limits(Limits().wall_s)[0],
    time_limit=job_time_limits(Limits().wall_s)[1],
)
def grade_submission(self, job_id: int) -> None:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    try:
        grading_job_run(job_id, redelivered=redelivered)
    except DB_ERRORS as exc:
        # The database went away (restart, failover): try again shortly; the row is still the truth.
        db.close_old_connections()
        for conn in db.connections.all():
            conn.close()
        raise self.retry(exc=exc, countdown=2, max_retries=20) from None


@shared_task(name="courseapp.reconcile_jobs", ignore_result=True, acks_late=False)
def reconcile_jobs() -> dict[str, list[int]]:
    """Periodic (CELERY_BEAT_SCHEDULE): re-send lost jobs, fail the hopeless ones."""
    return reconcile_jobs_once().as_dict()

"""reconcile_jobs: nothing lost. Finds grading jobs that the queue has forgotten and sends them again.

Run periodically (Celery beat, CELERY_BEAT_SCHEDULE) and by hand (`manage.py reconcile_jobs`).

- A job *running* past its deadline (started_at + the hard Celery time limit derived from its
  exercise's wall limit + RECONCILE_GRACE_S) lost its worker (kill -9, machine gone, a message
  that Redis will only restore after its visibility timeout). It goes back to queued and is sent
  again, or fails with a clear message when GRADING_MAX_ATTEMPTS attempts were made.
- A job *queued* for longer than RECONCILE_QUEUED_AFTER_S whose message may be lost (Redis restarted
  without persistence, an enqueue that failed after commit) is sent again; queued_at is stamped so
  it is re-sent at most once per period.
- A job unfinished RECONCILE_GIVE_UP_AFTER_S after it was created fails with a clear message (never
  a spinner forever).

Re-sending is safe: a message for a finished job is a no-op, a second message for a job another
worker is grading is dropped (grading_job_run), and Result is one-to-one with its job.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from courseapp.models import GradingJob
from courseapp.services.jobs import job_deadline_s, job_enqueue, job_lock

log = logging.getLogger(__name__)
Status = GradingJob.Status

LOST_MESSAGE = (
    "This submission could not be graded: the grading service was interrupted {n} time(s). "
    "It will not be retried automatically; please contact your instructor (your submission is safe)."
)
GIVE_UP_MESSAGE = (
    "This submission could not be graded in time (the grading service was unavailable). "
    "Please contact your instructor (your submission is safe)."
)
RETRY_MESSAGE = "Grading was interrupted (a grading worker was lost); we will retry it automatically."


@dataclass
class ReconcileReport:
    requeued_running: list[int] = field(default_factory=list)
    resent_queued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[int]]:
        return asdict(self)

    @property
    def total(self) -> int:
        return len(self.requeued_running) + len(self.resent_queued) + len(self.failed)


def _reconcile_one(job_id: int, now: datetime, report: ReconcileReport) -> None:
    with transaction.atomic():
        job = job_lock(job_id)
        if job is None or job.is_finished:
            return
        ids = {"job_id": job.pk, "submission_id": job.submission_id}
        age = (now - job.created_at).total_seconds()
        if age > settings.RECONCILE_GIVE_UP_AFTER_S:
            job.transition(Status.FAILED, error=GIVE_UP_MESSAGE)
            job.save()
            report.failed.append(job.pk)
            log.error("reconcile: job %s unfinished after %.0f s; failed", job.pk, age, extra=ids)
            return
        if job.status == Status.RUNNING:
            started = job.started_at or job.queued_at
            if (now - started).total_seconds() < job_deadline_s(job):
                return
            if job.attempts >= settings.GRADING_MAX_ATTEMPTS:
                job.transition(Status.FAILED, error=LOST_MESSAGE.format(n=job.attempts))
                job.save()
                report.failed.append(job.pk)
                log.error("reconcile: job %s lost its worker %s times; failed", job.pk, job.attempts, extra=ids)
                return
            job.transition(Status.QUEUED, error=RETRY_MESSAGE)
            job.save()
            job_enqueue(job)
            report.requeued_running.append(job.pk)
            log.warning("reconcile: job %s was running past its deadline; re-sent", job.pk, extra=ids)
        elif job.status == Status.QUEUED:
            if (now - job.queued_at).total_seconds() < settings.RECONCILE_QUEUED_AFTER_S:
                return
            job.queued_at = now  # re-sent at most once per period
            job.save(update_fields=["queued_at"])
            job_enqueue(job)
            report.resent_queued.append(job.pk)
            log.warning("reconcile: job %s queued too long; re-sent", job.pk, extra=ids)


def reconcile_jobs(*, now: datetime | None = None, limit: int = 1000) -> ReconcileReport:
    """One pass over unfinished jobs that may be lost (cheap: two indexed filters)."""
    now = now or timezone.now()
    report = ReconcileReport()
    min_deadline = settings.GRADING_SOFT_MARGIN_S + settings.GRADING_HARD_MARGIN_S + settings.RECONCILE_GRACE_S
    candidates = list(
        GradingJob.objects.filter(
            status=Status.RUNNING, started_at__lt=now - timedelta(seconds=min_deadline)
        ).values_list("pk", flat=True)[:limit]
    )
    candidates += list(
        GradingJob.objects.filter(
            status=Status.QUEUED, queued_at__lt=now - timedelta(seconds=settings.RECONCILE_QUEUED_AFTER_S)
        ).values_list("pk", flat=True)[:limit]
    )
    candidates += list(
        GradingJob.objects.filter(
            status__in=[Status.QUEUED, Status.RUNNING],
            created_at__lt=now - timedelta(seconds=settings.RECONCILE_GIVE_UP_AFTER_S),
        ).values_list("pk", flat=True)[:limit]
    )
    for job_id in sorted(set(candidates)):
        _reconcile_one(job_id, now, report)
    if report.total:
        log.info("reconcile: %s", report.as_dict())
    return report

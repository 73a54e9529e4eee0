"""The grading job's lifecycle, the parts every caller shares: which queue, which time limits, when a
started job counts as lost, the row lock, and sending the job to its worker.

Imports run one way: tasks -> services -> models. The task is sent by name (GRADE_TASK), so nothing
here imports courseapp.tasks; tasks.py registers its task under the same name.
"""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.db import transaction

from courseapp.celery import app as celery_app
from courseapp.models import Exercise, ExerciseRevision, GradingJob, Regrade, Submission
from grader.exercise import Limits

log = logging.getLogger(__name__)

GRADE_TASK = "courseapp.grade_submission"


def job_queue(exercise: Exercise) -> str:
    """The Celery queue that grades the exercise: its `queue` ("cpu" | "gpu") mapped by GRADING_QUEUES
    (gpu goes to grade.cpu while GRADING_GPU_WORKERS is off)."""
    queues: dict[str, str] = settings.GRADING_QUEUES
    return queues.get(exercise.queue, settings.CELERY_TASK_DEFAULT_QUEUE)


def job_time_limits(wall_s: float) -> tuple[int, int]:
    """(soft, hard) Celery time limits for a job whose sandbox may run wall_s seconds: always
    sandbox < soft < hard."""
    soft = math.ceil(wall_s) + int(settings.GRADING_SOFT_MARGIN_S)
    return soft, soft + int(settings.GRADING_HARD_MARGIN_S)


# For a message sent without limits of its own: those of an exercise with the default sandbox limits.
DEFAULT_TIME_LIMITS = job_time_limits(Limits().wall_s)


def job_deadline_s(job: GradingJob) -> float:
    """How long a started job may run before it counts as lost: its hard Celery time limit (from the
    revision's sandbox wall limit) plus RECONCILE_GRACE_S."""
    return job_time_limits(job.revision.wall_s)[1] + float(settings.RECONCILE_GRACE_S)


def job_lock(job_id: int) -> GradingJob | None:
    """The job row, locked until the surrounding transaction ends (None when it does not exist), with
    its submission and the revision it grades against."""
    return (
        GradingJob.objects.select_for_update(of=("self",))
        .select_related("submission", "revision__exercise")
        .filter(pk=job_id)
        .first()
    )


def job_enqueue(job: GradingJob, *, countdown: float = 0) -> None:
    """Send the job to its queue once the current transaction commits (never before: the worker
    must find the rows)."""
    from courseapp.services.fairness import job_priority

    job_id, queue = job.pk, job.queue
    soft, hard = job_time_limits(job.revision.wall_s)
    priority = job_priority(job)  # fair order: how many of this student's jobs are ahead of it

    def send() -> None:
        try:
            celery_app.send_task(
                GRADE_TASK,
                args=[job_id],
                queue=queue,
                countdown=countdown or None,
                soft_time_limit=soft,
                time_limit=hard,
                priority=priority,
            )
        except Exception:  # noqa: BLE001 - the broker is down: the job row is committed, the reconciler re-sends it
            log.exception(
                "grading job %s: could not reach the broker; the reconciler will send it",
                job_id,
                extra={"job_id": job_id},
            )

    transaction.on_commit(send)


def job_create(submission: Submission, revision: ExerciseRevision, *, regrade: Regrade | None = None) -> GradingJob:
    """A queued job that grades `submission` against `revision`, sent on commit."""
    job = GradingJob.objects.create(
        submission=submission, revision=revision, regrade=regrade, queue=job_queue(revision.exercise)
    )
    job_enqueue(job)
    return job


def jobs_create_for_regrade(submissions: list[Submission], regrade: Regrade) -> list[GradingJob]:
    """One queued job per submission against the regrade's revision (one INSERT), each sent on commit."""
    queue = job_queue(regrade.exercise)
    jobs = GradingJob.objects.bulk_create(
        [GradingJob(submission=s, revision=regrade.revision, regrade=regrade, queue=queue) for s in submissions]
    )
    for job in jobs:
        job_enqueue(job)
    return jobs

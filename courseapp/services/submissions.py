"""submission_create: a submission and its grading job in one transaction, enqueued on commit."""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from courseapp.models import Enrolment, Exercise, GradingJob, Submission


def submission_validate(exercise: Exercise, source: str) -> None:
    """Refuse input that cannot be a submission to this exercise (empty, or over its size limit)."""
    revision = exercise.current_revision
    if revision is None:
        raise ValidationError("This exercise is not open for submissions yet.")
    if not source.strip():
        raise ValidationError("Your submission is empty.")
    if exercise.kind == Exercise.Kind.FREETEXT:
        if len(source) > revision.max_chars:
            raise ValidationError(
                f"Your answer has {len(source)} characters; the limit is {revision.max_chars}."
            )
    elif len(source.encode("utf-8")) > revision.max_source_bytes:
        raise ValidationError(
            f"Your file is {len(source.encode('utf-8'))} bytes; the limit is {revision.max_source_bytes} bytes."
        )


def job_time_limits(wall_s: float) -> tuple[int, int]:
    """(soft, hard) Celery time limits for a job whose sandbox may run wall_s seconds: always
    sandbox < soft < hard."""
    soft = math.ceil(wall_s) + settings.GRADING_SOFT_MARGIN_S
    return soft, soft + settings.GRADING_HARD_MARGIN_S


def grading_job_enqueue(job: GradingJob, *, countdown: float = 0) -> None:
    """Send the job to its queue once the current transaction commits (never before: the worker
    must find the rows)."""
    from courseapp.tasks import grade_submission

    job_id, queue = job.pk, job.queue
    soft, hard = job_time_limits(job.submission.revision.wall_s)

    def send() -> None:
        try:
            grade_submission.apply_async(
                args=[job_id], queue=queue, countdown=countdown or None, soft_time_limit=soft, time_limit=hard
            )
        except Exception:  # noqa: BLE001 - the broker is down: the job row is committed, the reconciler re-sends it
            logging.getLogger(__name__).exception(
                "grading job %s: could not reach the broker; the reconciler will send it", job_id,
                extra={"job_id": job_id})

    transaction.on_commit(send)


@transaction.atomic
def submission_create(*, user, exercise: Exercise, source: str, token: str = "") -> Submission:
    """Record what `user` handed in for the exercise's current revision and queue it for grading.
    `token` (the form's idempotency token): a form sent twice returns the first send's submission."""
    from courseapp import idempotency

    # Lock the student's enrolment row: two submissions at once cannot both pass the attempt and
    # rate limits below.
    if not Enrolment.objects.select_for_update().filter(user=user, course_id=exercise.course_id).exists():
        raise PermissionDenied("not enrolled in this course")
    if (earlier := idempotency.submission_for_token(user, token)) is not None:
        return earlier
    submission_validate(exercise, source)
    from courseapp.services import policies

    used, last_at = policies.attempt_usage(exercise, user)
    policies.submission_gate(policies.window_for(exercise, user), now=timezone.now(), used=used, last_at=last_at)
    submission = Submission.objects.create(user=user, revision=exercise.current_revision, source=source)
    job = GradingJob.objects.create(
        submission=submission,
        queue=settings.GRADING_QUEUES.get(exercise.queue, settings.CELERY_TASK_DEFAULT_QUEUE),
    )
    grading_job_enqueue(job)
    idempotency.remember_token(user, token, submission)
    return submission

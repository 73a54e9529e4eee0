"""submission_create: a submission and its grading job in one transaction, enqueued on commit."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from courseapp import idempotency
from courseapp.models import Enrolment, Exercise, ExerciseRevision, Submission
from courseapp import policies
from courseapp.services import fairness
from courseapp.services.jobs import job_create


def submission_validate(exercise: Exercise, source: str) -> ExerciseRevision:
    """Refuse input that cannot be a submission to this exercise (empty, or over its size limit);
    return the revision it would be made against."""
    revision = exercise.current_revision
    if revision is None:
        raise ValidationError("This exercise is not open for submissions yet.")
    if not source.strip():
        raise ValidationError("Your submission is empty.")
    if exercise.kind == Exercise.Kind.FREETEXT:
        if len(source) > revision.max_chars:
            raise ValidationError(f"Your answer has {len(source)} characters; the limit is {revision.max_chars}.")
    elif len(source.encode("utf-8")) > revision.max_source_bytes:
        raise ValidationError(
            f"Your file is {len(source.encode('utf-8'))} bytes; the limit is {revision.max_source_bytes} bytes."
        )
    return revision


@transaction.atomic
def submission_create(*, user: User, exercise: Exercise, source: str, token: str = "") -> Submission:
    """Record what `user` handed in for the exercise's current revision and queue it for grading.
    `token` (the form's idempotency token): a form sent twice returns the first send's submission."""
    # Lock the student's enrolment row: two submissions at once cannot both pass the attempt and
    # rate limits below.
    if not Enrolment.objects.select_for_update().filter(user=user, course_id=exercise.course_id).exists():
        raise PermissionDenied("not enrolled in this course")
    if (earlier := idempotency.submission_for_token(user, token)) is not None:
        return earlier
    revision = submission_validate(exercise, source)
    used, last_at = policies.attempt_usage(exercise, user)
    policy = policies.policy_for(exercise)  # read once for the window and the queue limits
    window = policies.window_for_policy(policy, exercise, user)
    policies.submission_gate(window, now=timezone.now(), used=used, last_at=last_at)
    fairness.submission_limits_gate(user, exercise, timezone.now(), policy)  # jobs in flight, submissions a minute
    submission = Submission.objects.create(user=user, revision=revision, source=source)
    job_create(submission, revision)
    idempotency.remember_token(user, token, submission)
    return submission

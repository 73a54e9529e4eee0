"""Instructor writes, each with its audit entry: grade overrides, exercise policies, extensions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from courseapp.models import AuditEntry, Exercise, ExercisePolicy, Extension, GradeOverride, Submission
from courseapp.services.grade_events import final_grade_changed_on_commit


@transaction.atomic
def grade_override(
    *, submission: Submission, actor: User, score: float, reason: str, comment: str = ""
) -> GradeOverride:
    """Replace a submission's grade (code, free text or quiz alike). The reason is required and goes
    to the audit trail; the comment is shown to the student."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Give a reason for the change (it goes to the audit trail).")
    max_score = submission.revision.max_score
    if score is None or not (0 <= score <= max_score):
        raise ValidationError(f"The score must be between 0 and {max_score:g}.")
    previous = submission.overrides.first()
    result = submission.current_result
    before = {
        "score": previous.score if previous else (result.score if result else None),
        "source": "override" if previous else ("result" if result else "none"),
    }
    override = GradeOverride.objects.create(
        submission=submission, score=score, comment=comment.strip(), reason=reason, created_by=actor
    )
    AuditEntry.objects.create(
        course_id=submission.revision.exercise.course_id,
        actor=actor,
        action="override",
        target=f"submission {submission.pk} ({submission.user.get_username()}, {submission.revision.exercise.slug})",
        before=before,
        after={"score": score, "comment": override.comment},
        reason=reason,
    )
    final_grade_changed_on_commit(
        user_id=submission.user_id, exercise_id=submission.revision.exercise_id, reason="override"
    )
    return override


def policy_save(*, exercise: Exercise, actor: User, data: dict[str, Any]) -> ExercisePolicy:
    """Create or change an exercise's policy and write the audit entry."""
    fields = (
        "opens_at",
        "due_at",
        "late_until",
        "late_credit",
        "max_attempts",
        "min_seconds_between",
        "reveal_hidden",
        "max_in_flight",
        "max_per_minute",
    )
    policy = ExercisePolicy.objects.filter(exercise=exercise).first()
    before = {f: _jsonable(getattr(policy, f)) for f in fields} if policy else {}
    if policy is None:
        policy = ExercisePolicy(exercise=exercise)
    for f in fields:
        if f in data:
            setattr(policy, f, data[f])
    if policy.due_at and policy.late_until and policy.late_until < policy.due_at:
        raise ValidationError("The late window must end after the due date.")
    if policy.opens_at and policy.due_at and policy.due_at < policy.opens_at:
        raise ValidationError("The due date must be after the opening date.")
    if not 0.0 <= policy.late_credit <= 1.0:
        raise ValidationError("Late credit is a fraction between 0 and 1.")
    policy.save()
    AuditEntry.objects.create(
        course_id=exercise.course_id,
        actor=actor,
        action="policy",
        target=exercise.slug,
        before=before,
        after={f: _jsonable(getattr(policy, f)) for f in fields},
    )
    return policy


def extension_grant(
    *,
    exercise: Exercise,
    user: User,
    actor: User,
    due_at: datetime,
    late_until: datetime | None = None,
    reason: str = "",
) -> Extension:
    ext, _ = Extension.objects.update_or_create(
        exercise=exercise, user=user, defaults={"due_at": due_at, "late_until": late_until, "created_by": actor}
    )
    AuditEntry.objects.create(
        course_id=exercise.course_id,
        actor=actor,
        action="extension",
        target=f"{exercise.slug} / {user.get_username()}",
        reason=reason,
        after={"due_at": _jsonable(due_at), "late_until": _jsonable(late_until)},
    )
    return ext


def _jsonable(v: object) -> object:
    return v.isoformat() if isinstance(v, datetime) else v

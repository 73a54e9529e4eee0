"""Instructor writes: grade overrides (with the audit trail)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from courseapp.models import AuditEntry, GradeOverride, Submission
from courseapp.services.grade_events import final_grade_changed_on_commit


@transaction.atomic
def grade_override(*, submission: Submission, actor, score: float, reason: str, comment: str = "") -> GradeOverride:
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
    before = {"score": previous.score if previous else (result.score if result else None),
              "source": "override" if previous else ("result" if result else "none")}
    override = GradeOverride.objects.create(submission=submission, score=score, comment=comment.strip(),
                                            reason=reason, created_by=actor)
    AuditEntry.objects.create(
        course_id=submission.revision.exercise.course_id, actor=actor, action="override",
        target=f"submission {submission.pk} ({submission.user.get_username()}, {submission.revision.exercise.slug})",
        before=before, after={"score": score, "comment": override.comment}, reason=reason)
    final_grade_changed_on_commit(user_id=submission.user_id, exercise_id=submission.revision.exercise_id,
                                  reason="override")
    return override

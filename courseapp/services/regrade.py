"""Regrade: grade submissions again against an exercise's current revision.

A regrade is one more GradingJob on the same (immutable) submission, against the new revision, with
`regrade` set; its Result is stored beside the old one. The newest job's result counts from then on
(Submission.current_result); the old result stays in the database. The report is
selectors_instructor.regrade_report.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery

from courseapp.models import AuditEntry, Exercise, Regrade, Submission
from courseapp.services.jobs import jobs_create_for_regrade


@transaction.atomic
def regrade_start(*, exercise: Exercise, actor: User | None, scope: str = Regrade.Scope.LATEST) -> Regrade:
    """Queue a new grading of the exercise's submissions (each student's latest, or all) against its
    current revision. Submissions made against that revision, or already regraded against it, are
    left alone."""
    revision = exercise.current_revision
    if revision is None:
        raise ValidationError("The exercise has no revision to regrade against.")
    if scope not in Regrade.Scope.values:
        raise ValidationError(f"unknown scope {scope!r}")
    chosen = Submission.objects.filter(revision__exercise=exercise)
    if scope == Regrade.Scope.LATEST:
        newest = (
            Submission.objects.filter(revision__exercise=exercise, user=OuterRef("user"))
            .order_by("-created_at", "-id")
            .values("id")[:1]
        )
        chosen = chosen.filter(id=Subquery(newest))
    chosen = chosen.exclude(revision=revision).exclude(jobs__revision=revision).order_by("user_id", "created_at")
    regrade = Regrade.objects.create(exercise=exercise, revision=revision, scope=scope, created_by=actor)
    jobs = jobs_create_for_regrade(list(chosen.only("id", "user_id")), regrade)
    AuditEntry.objects.create(
        course_id=exercise.course_id,
        actor=actor,
        action="regrade",
        target=exercise.slug,
        after={"regrade": regrade.pk, "revision": revision.content_hash[:12], "scope": scope, "submissions": len(jobs)},
    )
    return regrade

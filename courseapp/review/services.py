"""The free-text review queue: provisional grades grouped by similarity, one decision for a group or
one answer, every decision an override (audit trail) and a labelled exemplar for the revision.

A grade is provisional when the grader said so (Result.extra["provisional"]) and no override has
replaced it yet. Deciding overrides it through courseapp.services.instructor.grade_override, stores
the teacher's band and score as an Exemplar (updated when the decision changes), and sends
courseapp.signals.final_grade_changed(reason="review") once committed (the override also sends reason="override"). release_due releases the
machine's proposals after the due date where the course chose so (reason="release").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from courseapp.models import (
    Exercise,
    ExercisePolicy,
    ExerciseRevision,
    Result,
    Submission,
)
from courseapp.review.models import Band, Exemplar, ReviewSettings
from courseapp.services.grade_events import final_grade_changed_on_commit
from courseapp.services.instructor import grade_override

log = logging.getLogger(__name__)

GROUP_SIMILARITY = 0.8  # cosine of whole-answer embeddings: above it, answers say much the same thing
FULL_AT, PARTIAL_AT = 0.75, 0.25  # contracts.md §1: the bands as fractions of max_score


def band_of(score: float, max_score: float) -> str:
    fraction = score / max_score if max_score else 0.0
    return Band.FULL if fraction >= FULL_AT - 1e-9 else Band.PARTIAL if fraction >= PARTIAL_AT - 1e-9 else Band.NONE


def default_score(band: str, max_score: float) -> float:
    return {Band.FULL: max_score, Band.PARTIAL: max_score / 2, Band.NONE: 0.0}[Band(band)]


def pending(exercise: Exercise) -> list[Submission]:
    """Submissions whose grade waits for review: the result that counts is provisional and no
    override replaced it. Each carries `current_extra` and `current_score` (one query)."""
    extra = Result.objects.filter(pk=OuterRef("current_result_id")).values("extra")[:1]
    rows = (
        Submission.objects.filter(revision__exercise=exercise, overrides__isnull=True)
        .with_grading()
        .annotate(current_extra=Subquery(extra))
        .select_related("user", "revision")
        .order_by("created_at", "id")
    )
    return [s for s in rows if isinstance(s.current_extra, dict) and s.current_extra.get("provisional") is True]


def is_provisional(submission: Submission) -> bool:
    result = submission.current_result
    return bool(result and (result.extra or {}).get("provisional")) and not submission.overrides.exists()


@dataclass
class ReviewGroup:
    submissions: list[Submission] = field(default_factory=list)
    proposals: list[tuple[str, float, float]] = field(default_factory=list)  # (band, score, confidence)

    @property
    def key(self) -> int:
        return self.submissions[0].pk

    @property
    def size(self) -> int:
        return len(self.submissions)

    @property
    def proposal(self) -> tuple[str, float]:
        """The machine's most frequent band in the group, with the mean of its scores for that band."""
        bands = [b for b, _, _ in self.proposals]
        band = max(set(bands), key=lambda b: (bands.count(b), b == Band.PARTIAL))
        scores = [s for b, s, _ in self.proposals if b == band]
        return band, round(2 * sum(scores) / len(scores)) / 2

    @property
    def mean_confidence(self) -> float:
        return sum(c for _, _, c in self.proposals) / len(self.proposals)


def review_groups(exercise: Exercise, limit: int = 500) -> list[ReviewGroup]:
    """Pending answers clustered by meaning (leader clustering on sentence embeddings: an answer
    joins the most similar group whose first answer it is at least GROUP_SIMILARITY close to),
    largest group first."""
    from grader.freetext.exemplars import embed_cached

    items = pending(exercise)[:limit]
    if not items:
        return []
    vectors = embed_cached([s.source for s in items])
    groups: list[ReviewGroup] = []
    leaders: list[int] = []
    for i, submission in enumerate(items):
        best, best_sim = -1, GROUP_SIMILARITY
        for g, leader in enumerate(leaders):
            sim = float(vectors[i] @ vectors[leader])
            if sim >= best_sim:
                best, best_sim = g, sim
        if best < 0:
            groups.append(ReviewGroup())
            leaders.append(i)
            best = len(groups) - 1
        # annotated by the pending() queryset (with_grading), which the stubs cannot see
        extra: dict[str, Any] = getattr(submission, "current_extra")
        score = float(getattr(submission, "current_score") or 0.0)
        groups[best].submissions.append(submission)
        groups[best].proposals.append(
            (
                str(extra.get("band", band_of(score, submission.revision.max_score))),
                score,
                float(extra.get("confidence", 0.0)),
            )
        )
    return sorted(groups, key=lambda g: (-g.size, g.key))


@transaction.atomic
def review_decide(
    *,
    actor: Any,
    exercise: Exercise,
    submission_ids: Iterable[int | str],
    band: str,
    score: float | None = None,
    comment: str = "",
) -> list[Submission]:
    """One teacher decision for one answer or a whole group: an override per submission (audit
    trail), an exemplar per answer (created or updated), a final_grade_changed per student."""
    try:
        band = Band(band)
    except ValueError:
        raise ValidationError(f"Choose a band: {', '.join(Band.values)}.") from None
    ids = sorted({int(i) for i in submission_ids})
    if not ids:
        raise ValidationError("No answers selected.")
    submissions = list(
        Submission.objects.select_for_update()
        .filter(pk__in=ids, revision__exercise=exercise)
        .select_related("revision", "user")
    )
    if len(submissions) != len(ids):
        raise ValidationError("Some of the selected answers are not answers to this exercise.")
    max_score = submissions[0].revision.max_score
    score = default_score(band, max_score) if score is None else float(score)
    if band_of(score, max_score) != band:
        raise ValidationError(
            f"A score of {score:g} / {max_score:g} is not {Band(band).label.lower()}: "
            f"full credit is from {FULL_AT * max_score:g}, partial from {PARTIAL_AT * max_score:g}."
        )
    reason = f"free-text review: {band}" + (
        f" (one decision for {len(submissions)} similar answers)" if len(submissions) > 1 else ""
    )
    for submission in submissions:
        grade_override(submission=submission, actor=actor, score=score, reason=reason, comment=comment)
        Exemplar.objects.update_or_create(
            submission=submission,
            defaults={
                "revision": submission.revision,
                "text": submission.source,
                "band": band,
                "score": score,
                "comment": comment.strip(),
                "decided_by": actor,
            },
        )
        final_grade_changed_on_commit(user_id=submission.user_id, exercise_id=exercise.pk, reason="review")
    log.info(
        "review: %s decided %s answer(s) of %s as %s %g",
        getattr(actor, "pk", None),
        len(submissions),
        exercise.slug,
        band,
        score,
    )
    return submissions


def settings_for(exercise: Exercise) -> ReviewSettings:
    return ReviewSettings.objects.get_or_create(exercise=exercise)[0]


def release_due(now: datetime | None = None, *, actor: Any = None) -> int:
    """Release, as the machine proposed, every grade still pending review on exercises whose course
    chose release_at_due and whose due date has passed. Each release is an override (audit trail)
    attributed to `actor` (default: the course's first instructor)."""
    from courseapp.models import Enrolment

    now = now or timezone.now()
    released = 0
    for rs in ReviewSettings.objects.filter(release_at_due=True).select_related("exercise"):
        policy = ExercisePolicy.objects.filter(exercise=rs.exercise).first()
        if policy is None or policy.due_at is None or policy.due_at > now:
            continue
        who = actor or next(
            (
                e.user
                for e in Enrolment.objects.filter(course_id=rs.exercise.course_id, role=Enrolment.Role.INSTRUCTOR)
                .select_related("user")
                .order_by("id")
            ),
            None,
        )
        if who is None:
            continue
        with transaction.atomic():
            for submission in pending(rs.exercise):
                grade_override(
                    submission=submission,
                    actor=who,
                    score=float(getattr(submission, "current_score") or 0.0),
                    reason="released after the due date without review (course policy)",
                    comment="Released as graded by the machine.",
                )
                final_grade_changed_on_commit(user_id=submission.user_id, exercise_id=rs.exercise_id, reason="release")
                released += 1
    return released


def grading_inputs(revision: ExerciseRevision) -> dict[str, Any]:
    """What the worker passes to the free-text grader for this revision: the teacher's exemplars and
    the course's recalibrated threshold (None: the exercise's own)."""
    from grader.freetext import Exemplar as GraderExemplar

    exemplars = [
        GraderExemplar(text=e.text, band=e.band, score=e.score, source="teacher")  # type: ignore[arg-type]
        for e in Exemplar.objects.filter(revision=revision).order_by("decided_at", "id")
    ]
    rs = ReviewSettings.objects.filter(exercise_id=revision.exercise_id).first()
    return {"exemplars": exemplars, "threshold": rs.confidence_threshold if rs else None}


MIN_LABELS_TO_RECALIBRATE = 20


def recalibrate(exercise: Exercise, spec: Any) -> float | None:
    """Recompute the exercise's confidence threshold from the teacher's labels of its current
    revision (grader.freetext.calibrate_threshold, leave-one-out). `spec` is the grader's Exercise."""
    from grader.freetext import calibrate_threshold

    revision = exercise.current_revision
    if revision is None:
        return None
    data = grading_inputs(revision)["exemplars"]
    if len(data) < MIN_LABELS_TO_RECALIBRATE:
        return None
    threshold = calibrate_threshold(data, spec)
    rs = settings_for(exercise)
    rs.confidence_threshold, rs.calibrated_on = threshold, len(data)
    rs.save(update_fields=["confidence_threshold", "calibrated_on"])
    return threshold

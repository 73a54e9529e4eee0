"""The free-text review queue: provisional grades grouped by similarity, one decision for a group or
one answer, every decision an override (audit trail) and a labelled exemplar for the revision.

A grade is provisional when the grader said so (Result.extra["provisional"]) and no override has
replaced it yet. Deciding overrides it through courseapp.services.instructor.grade_override, stores
the teacher's band and score as an Exemplar (updated when the decision changes), and sends
courseapp.signals.final_grade_changed(reason="review") once committed (the override also sends reason="override"). release_due releases the
machine's proposals after the due date where the course chose so (reason="release").

Every decision then recalibrates the revision's confidence threshold from the teacher's labels
(recalibrate: a Calibration row each time, the history the review page shows), and regrade_report
shows, as a dry run, which machine-graded answers the exemplars as they now are would grade
differently; apply_regrade_report regrades those (a new GradingJob per submission, in one Regrade).
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
    AuditEntry,
    Exercise,
    ExercisePolicy,
    ExerciseRevision,
    Regrade,
    Result,
    Submission,
)
from courseapp.review.models import Band, Calibration, Exemplar, ReviewSettings
from courseapp.services.grade_events import final_grade_changed_on_commit
from courseapp.services.instructor import grade_override
from courseapp.services.jobs import jobs_create_for_regrade

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
    recalibrate_after_decision(
        exercise,
        actor=actor,
        trigger=f"decision: {len(submissions)} answer(s) {band} {score:g}",
    )
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


def threshold_in_use(revision: ExerciseRevision) -> float | None:
    """The recalibrated threshold for this revision (its newest applied Calibration), else the course's
    setting (ReviewSettings, e.g. from the review_recalibrate command); None: the exercise's own."""
    newest = Calibration.objects.filter(revision=revision, applied=True).order_by("-created_at", "-id").first()
    if newest is not None:
        return newest.threshold
    rs = ReviewSettings.objects.filter(exercise_id=revision.exercise_id).first()
    return rs.confidence_threshold if rs else None


def grading_inputs(revision: ExerciseRevision) -> dict[str, Any]:
    """What the worker passes to the free-text grader for this revision: the teacher's exemplars and
    the recalibrated threshold (None: the exercise's own)."""
    from grader.freetext import Exemplar as GraderExemplar

    exemplars = [
        GraderExemplar(text=e.text, band=e.band, score=e.score, source="teacher")  # type: ignore[arg-type]
        for e in Exemplar.objects.filter(revision=revision).order_by("decided_at", "id")
    ]
    return {"exemplars": exemplars, "threshold": threshold_in_use(revision)}


MIN_LABELS_TO_RECALIBRATE = 20  # grader.freetext.calibrate.MIN_LABELS


def grader_spec(revision: ExerciseRevision) -> Any:
    """The grader's Exercise for a revision (its files materialised by grader_runtime)."""
    from courseapp.services.grader_runtime import revision_folder
    from grader.exercise import load_exercise

    return load_exercise(revision_folder(revision))


def recalibrate(exercise: Exercise, spec: Any = None, *, actor: Any = None, trigger: str = "") -> float | None:
    """Recompute the confidence threshold of the exercise's current revision from the teacher's labels
    (grader.freetext.calibrate: leave-one-out, the exercise's target precision) and record it as a
    Calibration (history shown on the review page). With fewer than MIN_LABELS_TO_RECALIBRATE labels
    the exercise's own threshold stays in force: the measurement is recorded, None is returned.
    `spec` is the grader's Exercise (default: loaded from the revision)."""
    from grader.freetext import calibrate

    revision = exercise.current_revision
    if revision is None:
        return None
    spec = spec if spec is not None else grader_spec(revision)
    data = grading_inputs(revision)["exemplars"]
    previous = threshold_in_use(revision)
    found = calibrate(data, spec)
    applied = len(data) >= MIN_LABELS_TO_RECALIBRATE
    Calibration.objects.create(
        revision=revision,
        threshold=found.threshold,
        previous=previous if previous is not None else spec_threshold(spec),
        labels=found.labels,
        target_precision=found.target_precision,
        released=found.released,
        correct=found.correct,
        two_bands_off=found.two_bands_off,
        vouched_precision=found.vouched_precision,
        reason=found.reason[:200],
        applied=applied,
        trigger=trigger[:200],
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    if not applied:
        return None
    rs = settings_for(exercise)
    rs.confidence_threshold, rs.calibrated_on = found.threshold, len(data)
    rs.save(update_fields=["confidence_threshold", "calibrated_on"])
    log.info(
        "review: threshold of %s recalibrated to %.4f from %s labels (%s)",
        exercise.slug,
        found.threshold,
        len(data),
        found.reason,
    )
    return found.threshold


def spec_threshold(spec: Any) -> float:
    from grader.freetext.rubric import load_rubric

    return float(load_rubric(spec).review.confidence_threshold)


def recalibrate_after_decision(exercise: Exercise, *, actor: Any, trigger: str) -> None:
    """Recalibrate once the decision has committed (never inside its transaction: it reads every
    label of the revision); a failure is logged and leaves the previous threshold in force."""

    def run() -> None:
        try:
            recalibrate(exercise, actor=actor, trigger=trigger)
        except Exception:  # noqa: BLE001 - the decision stands; the next one recalibrates again
            log.exception("review: could not recalibrate %s after a decision", exercise.slug)

    transaction.on_commit(run)


# ---- what changed exemplars would change: a dry-run regrade, and applying it ----------------------


@dataclass
class RegradeChange:
    """One already-graded answer whose grade the current exemplars and threshold would change."""

    submission: Submission
    before_band: str
    before_score: float
    before_provisional: bool
    after_band: str
    after_score: float
    after_provisional: bool
    after_confidence: float
    followed: str

    @property
    def what(self) -> list[str]:
        changed = []
        if self.before_band != self.after_band:
            changed.append("band")
        if abs(self.before_score - self.after_score) > 1e-9:
            changed.append("score")
        if self.before_provisional != self.after_provisional:
            changed.append("released" if not self.after_provisional else "sent to review")
        return changed


@dataclass
class RegradeReport:
    examined: int
    changes: list[RegradeChange]
    exemplars: int
    threshold: float

    @property
    def band_changes(self) -> int:
        return sum(c.before_band != c.after_band for c in self.changes)


def graded_without_override(exercise: Exercise, limit: int = 1000) -> list[Submission]:
    """Submissions of the exercise's current revision whose counting grade is the machine's (a
    free-text result, no override): the grades a regrade could change. Oldest first."""
    extra = Result.objects.filter(pk=OuterRef("current_result_id")).values("extra")[:1]
    rows = (
        Submission.objects.filter(revision=exercise.current_revision, overrides__isnull=True)
        .with_grading()
        .annotate(current_extra=Subquery(extra))
        .select_related("user", "revision")
        .order_by("created_at", "id")
    )
    return [s for s in rows[:limit] if isinstance(s.current_extra, dict) and "band" in s.current_extra]


def regrade_report(exercise: Exercise, spec: Any = None) -> RegradeReport:
    """Dry run: grade every machine-graded answer of the current revision again with the revision's
    exemplars and threshold as they are now (grader.freetext.preview), without storing anything, and
    list those whose band, score or provisional state would change."""
    from grader.freetext import preview

    revision = exercise.current_revision
    if revision is None:
        return RegradeReport(0, [], 0, 0.0)
    spec = spec if spec is not None else grader_spec(revision)
    inputs = grading_inputs(revision)
    threshold = inputs["threshold"] if inputs["threshold"] is not None else spec_threshold(spec)
    items = graded_without_override(exercise)
    results = preview([s.source for s in items], spec, inputs["exemplars"], threshold=threshold) if items else []
    changes: list[RegradeChange] = []
    for submission, result in zip(items, results):
        before: dict[str, Any] = getattr(submission, "current_extra")
        after = result.extra
        if result.status != "graded" or "band" not in after:
            continue
        change = RegradeChange(
            submission=submission,
            before_band=str(before.get("band")),
            before_score=float(getattr(submission, "current_score") or 0.0),
            before_provisional=bool(before.get("provisional")),
            after_band=str(after["band"]),
            after_score=float(result.score),
            after_provisional=bool(result.provisional),
            after_confidence=float(result.confidence or 0.0),
            followed=str(after.get("followed", "")),
        )
        if change.what:
            changes.append(change)
    return RegradeReport(len(items), changes, len(inputs["exemplars"]), threshold)


@transaction.atomic
def apply_regrade_report(
    *, actor: Any, exercise: Exercise, submission_ids: Iterable[int | str] | None = None, spec: Any = None
) -> Regrade | None:
    """Regrade the answers the dry run says would change (all of them, or those of `submission_ids`
    among them): one new GradingJob per submission on the same revision (courseapp.services.jobs), in
    one Regrade batch, with an audit entry. The worker grades them with the exemplars and threshold
    in force when it runs. None when nothing would change."""
    report = regrade_report(exercise, spec)
    chosen = {int(i) for i in submission_ids} if submission_ids is not None else None
    targets = [c.submission for c in report.changes if chosen is None or c.submission.pk in chosen]
    if not targets or exercise.current_revision is None:
        return None
    regrade = Regrade.objects.create(
        exercise=exercise, revision=exercise.current_revision, scope=Regrade.Scope.ALL, created_by=actor
    )
    jobs_create_for_regrade(targets, regrade)
    AuditEntry.objects.create(
        course_id=exercise.course_id,
        actor=actor,
        action="regrade",
        target=exercise.slug,
        after={
            "regrade": regrade.pk,
            "revision": exercise.current_revision.content_hash[:12],
            "reason": "exemplars changed",
            "submissions": [s.pk for s in targets],
            "exemplars": report.exemplars,
            "threshold": round(report.threshold, 4),
        },
        reason=f"free-text review: regrade of {len(targets)} answer(s) the teacher's exemplars now grade differently",
    )
    return regrade

"""The free-text review queue: provisional grades grouped by similarity, one decision for a group or
one answer, every decision an override (audit trail) and a labelled exemplar for the revision.

A grade is provisional when the grader said so (Result.extra["provisional"]) and no override has
replaced it yet. Deciding overrides it through courseapp.services.instructor.grade_override, stores
the teacher's band and score as an Exemplar (updated when the decision changes), and sends
courseapp.signals.final_grade_changed(reason="review") once committed (the override also sends reason="override"). release_due releases the
machine's proposals after the due date where the course chose so (reason="release").

Every decision then asks for a recalibration of the revision's confidence threshold from the
teacher's labels (recalibrate_after_decision: a queued Calibration row, the history the review page
shows, measured by the review.recalibrate task through calibration_run), and regrade_report_request
asks for a dry run (a RegradeReport row that the review.regrade_report task fills through
regrade_report_run) of which machine-graded answers the exemplars as they now are would grade
differently; apply_regrade_report regrades those (a new GradingJob per submission, in one Regrade).
The slow work (embedding every label or answer) never runs in a web request.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
    GradingJob,
    Regrade,
    Result,
    Submission,
)
from courseapp.review.models import (
    Band,
    Calibration,
    Exemplar,
    JobStatus,
    RegradeChange,
    RegradeReport,
    ReviewSettings,
)
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
    newest = (
        Calibration.objects.filter(revision=revision, applied=True, status=JobStatus.DONE, threshold__isnull=False)
        .order_by("-created_at", "-id")
        .first()
    )
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
    now, in this process, and record it as a Calibration (the review_recalibrate command; a decision
    asks for one through recalibrate_after_decision instead). With fewer than
    MIN_LABELS_TO_RECALIBRATE labels the exercise's own threshold stays in force: the measurement is
    recorded, None is returned. `spec` is the grader's Exercise (default: loaded from the revision)."""
    revision = exercise.current_revision
    if revision is None:
        return None
    row = Calibration.objects.create(
        revision=revision,
        status=JobStatus.RUNNING,
        applied=False,
        started_at=timezone.now(),
        trigger=trigger[:200],
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _measure(row, spec)
    row.refresh_from_db()
    return row.threshold if row.applied else None


def spec_threshold(spec: Any) -> float:
    from grader.freetext.rubric import load_rubric

    return float(load_rubric(spec).review.confidence_threshold)


def _queue_task(name: str, row_id: int) -> None:
    """Send a review task (by name: services import no tasks) once the current transaction commits.
    A broker that does not answer leaves the row queued: asking again sends it again."""
    from django.conf import settings

    from courseapp.celery import app as celery_app

    def send() -> None:
        try:
            celery_app.send_task(name, args=[row_id], queue=settings.REVIEW_TASK_QUEUE, priority=0)
        except Exception:  # noqa: BLE001 - the row stays queued; the next request sends it again
            log.exception("review: could not send %s(%s); the next request sends it again", name, row_id)

    transaction.on_commit(send)


RECALIBRATE_TASK = "review.recalibrate"
REGRADE_REPORT_TASK = "review.regrade_report"


def recalibrate_after_decision(exercise: Exercise, *, actor: Any, trigger: str) -> Calibration | None:
    """Ask for a recalibration of the exercise's current revision (a queued Calibration, measured by the
    review.recalibrate task once the decision has committed). Decisions in quick succession share the
    one still queued: it reads every label when it runs."""
    revision = exercise.current_revision
    if revision is None:
        return None
    row = (
        Calibration.objects.select_for_update()
        .filter(revision=revision, status=JobStatus.QUEUED)
        .order_by("-created_at", "-id")
        .first()
    )
    if row is None:
        row = Calibration.objects.create(
            revision=revision,
            status=JobStatus.QUEUED,
            applied=False,
            trigger=trigger[:200],
            created_by=actor if getattr(actor, "pk", None) else None,
        )
    else:
        row.trigger = f"{trigger}; {row.trigger}"[:200]
        row.save(update_fields=["trigger"])
    _queue_task(RECALIBRATE_TASK, row.pk)
    return row


def _claim(model: type[Calibration] | type[RegradeReport], row_id: int) -> Any:
    """Take a queued row (or a running one whose task was lost: running for longer than
    REVIEW_TASK_STALE_S) and mark it running; None when there is nothing to do (done, failed, gone,
    or running elsewhere right now). This is what makes the tasks idempotent."""
    from django.conf import settings

    with transaction.atomic():
        row = model.objects.select_for_update().filter(pk=row_id).first()
        if row is None or row.status in (JobStatus.DONE, JobStatus.FAILED):
            return None
        now = timezone.now()
        stale = now - timedelta(seconds=settings.REVIEW_TASK_STALE_S)
        if row.status == JobStatus.RUNNING and row.started_at is not None and row.started_at > stale:
            return None
        row.status, row.started_at = JobStatus.RUNNING, now
        row.save(update_fields=["status", "started_at"])
        return row


def calibration_run(calibration_id: int, spec: Any = None) -> Calibration | None:
    """The review.recalibrate task: measure a queued Calibration. Running it again does nothing."""
    row = _claim(Calibration, calibration_id)
    if row is None:
        return None
    _measure(row, spec)
    return row


def _measure(row: Calibration, spec: Any) -> None:
    """Measure the threshold of row's revision from every teacher label it has now and store it in the
    row (a failure too: the previous threshold stays in force); apply it when there are enough labels."""
    from grader.freetext import calibrate

    revision = row.revision
    try:
        spec = spec if spec is not None else grader_spec(revision)
        data = grading_inputs(revision)["exemplars"]
        in_use = threshold_in_use(revision)
        previous = in_use if in_use is not None else spec_threshold(spec)
        found = calibrate(data, spec)
    except Exception as exc:  # noqa: BLE001 - the decision stands; the next one recalibrates again
        log.exception("review: could not recalibrate revision %s", revision.pk)
        Calibration.objects.filter(pk=row.pk).update(
            status=JobStatus.FAILED, applied=False, finished_at=timezone.now(), error=f"{type(exc).__name__}: {exc}"
        )
        return
    applied = len(data) >= MIN_LABELS_TO_RECALIBRATE
    with transaction.atomic():
        Calibration.objects.filter(pk=row.pk).update(
            status=JobStatus.DONE,
            threshold=found.threshold,
            previous=previous,
            labels=found.labels,
            target_precision=found.target_precision,
            released=found.released,
            correct=found.correct,
            two_bands_off=found.two_bands_off,
            vouched_precision=found.vouched_precision,
            reason=found.reason[:200],
            applied=applied,
            finished_at=timezone.now(),
            error="",
        )
        if applied:
            # The course's setting follows the newest applied measurement (requests finish in any order).
            newest = threshold_in_use(revision)
            rs = settings_for(revision.exercise)
            rs.confidence_threshold, rs.calibrated_on = newest, len(data)
            rs.save(update_fields=["confidence_threshold", "calibrated_on"])
    if applied:
        log.info(
            "review: threshold of revision %s recalibrated to %.4f from %s labels (%s)",
            revision.pk,
            found.threshold,
            len(data),
            found.reason,
        )


def calibration_pending(revision: ExerciseRevision | None) -> bool:
    return (
        revision is not None
        and Calibration.objects.filter(revision=revision, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)).exists()
    )


# ---- what changed exemplars would change: a dry-run regrade report (a Celery task), and applying it --


def graded_without_override(exercise: Exercise) -> Any:
    """Submissions of the exercise's current revision whose counting grade is the machine's (a
    free-text result with a band, no override): the grades a regrade could change. Oldest first; a
    queryset (iterate it in chunks), each row with `current_extra` and `current_score`."""
    extra = Result.objects.filter(pk=OuterRef("current_result_id")).values("extra")[:1]
    return (
        Submission.objects.filter(revision=exercise.current_revision, overrides__isnull=True)
        .with_grading()
        .annotate(current_extra=Subquery(extra))
        .filter(current_extra__has_key="band")
        .select_related("revision")
        .order_by("created_at", "id")
    )


def inputs_fingerprint(revision: ExerciseRevision) -> str:
    """Which exemplars (each decision and its change) and which recalibrated threshold a regrade of the
    revision would use: a report whose fingerprint differs from the revision's now is stale."""
    digest = hashlib.sha256()
    for row in (
        Exemplar.objects.filter(revision=revision).order_by("id").values_list("id", "band", "score", "decided_at")
    ):
        digest.update(repr(row).encode())
    digest.update(repr(threshold_in_use(revision)).encode())
    return digest.hexdigest()


def report_is_stale(report: RegradeReport) -> bool:
    """The exercise moved to another revision, or the exemplars or threshold changed since the report
    was computed (a queued report has not read them yet: never stale)."""
    exercise = report.exercise
    if exercise.current_revision_id != report.revision_id:
        return True
    if not report.fingerprint:
        return False
    return report.fingerprint != inputs_fingerprint(report.revision)


def regrade_report_request(exercise: Exercise, *, actor: Any) -> RegradeReport:
    """Ask for a regrade report of the exercise's current revision (computed by the review.regrade_report
    task). One already queued or running for the revision is reused (and its task sent again: a lost
    message costs a click, and running it twice does nothing)."""
    revision = exercise.current_revision
    if revision is None:
        raise ValidationError("The exercise has no revision to regrade.")
    with transaction.atomic():
        Exercise.objects.select_for_update().filter(pk=exercise.pk).first()  # one request at a time
        report = (
            RegradeReport.objects.filter(
                exercise=exercise, revision=revision, status__in=(JobStatus.QUEUED, JobStatus.RUNNING)
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if report is None:
            report = RegradeReport.objects.create(
                exercise=exercise,
                revision=revision,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
        _queue_task(REGRADE_REPORT_TASK, report.pk)
    return report


def regrade_report_run(report_id: int, spec: Any = None, *, chunk: int | None = None) -> RegradeReport | None:
    """The review.regrade_report task: grade every machine-graded answer of the report's revision again
    with the exemplars and threshold as they are now (grader.freetext.preview, nothing stored on the
    submissions), chunk by chunk, recording progress and each answer whose band, score or provisional
    state would change. Running it again does nothing; a rerun of a lost task starts over."""
    from django.conf import settings

    from grader.freetext import preview

    report = _claim(RegradeReport, report_id)
    if report is None:
        return None
    chunk = chunk or settings.REVIEW_REPORT_CHUNK
    try:
        revision = report.revision
        spec = spec if spec is not None else grader_spec(revision)
        with transaction.atomic():  # exemplars, threshold and fingerprint read together
            inputs = grading_inputs(revision)
            fingerprint = inputs_fingerprint(revision)
        threshold = inputs["threshold"] if inputs["threshold"] is not None else spec_threshold(spec)
        exercise = report.exercise
        if exercise.current_revision_id != revision.pk:
            raise ValidationError("The exercise has a newer revision; ask for a new report.")
        ids = list(graded_without_override(exercise).values_list("id", flat=True))
        report.changes.all().delete()  # a rerun of a lost task starts over
        RegradeReport.objects.filter(pk=report.pk).update(
            total=len(ids),
            examined=0,
            changed=0,
            band_changes=0,
            exemplars=len(inputs["exemplars"]),
            threshold=threshold,
            fingerprint=fingerprint,
        )
        examined = changed = band_changes = 0
        for at in range(0, len(ids), chunk):
            items = list(graded_without_override(exercise).filter(pk__in=ids[at : at + chunk]))
            results = preview([s.source for s in items], spec, inputs["exemplars"], threshold=threshold)
            rows = []
            for submission, result in zip(items, results):
                row = _change(report, submission, result)
                if row is not None and row.what:
                    rows.append(row)
            RegradeChange.objects.bulk_create(rows)
            examined += len(ids[at : at + chunk])
            changed += len(rows)
            band_changes += sum(r.before_band != r.after_band for r in rows)
            RegradeReport.objects.filter(pk=report.pk).update(
                examined=examined, changed=changed, band_changes=band_changes
            )
        RegradeReport.objects.filter(pk=report.pk).update(status=JobStatus.DONE, finished_at=timezone.now())
    except Exception as exc:  # noqa: BLE001 - the report says so; the teacher asks again
        log.exception("review: regrade report %s failed", report_id)
        msg = "; ".join(exc.messages) if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
        RegradeReport.objects.filter(pk=report.pk).update(
            status=JobStatus.FAILED, finished_at=timezone.now(), error=msg[:2000]
        )
    report.refresh_from_db()
    return report


def _change(report: RegradeReport, submission: Submission, result: Any) -> RegradeChange | None:
    before: dict[str, Any] = getattr(submission, "current_extra")
    after = result.extra
    if result.status != "graded" or "band" not in after:
        return None
    return RegradeChange(
        report=report,
        submission=submission,
        before_band=str(before.get("band")),
        before_score=float(getattr(submission, "current_score") or 0.0),
        before_provisional=bool(before.get("provisional")),
        after_band=str(after["band"]),
        after_score=float(result.score),
        after_provisional=bool(result.provisional),
        after_confidence=float(result.confidence or 0.0),
        followed=str(after.get("followed", ""))[:40],
    )


def latest_report(exercise: Exercise) -> RegradeReport | None:
    return RegradeReport.objects.filter(exercise=exercise).order_by("-created_at", "-id").first()


@transaction.atomic
def apply_regrade_report(
    *, actor: Any, report: RegradeReport, submission_ids: Iterable[int | str] | None = None
) -> Regrade | None:
    """Regrade the answers a done report says would change (all of them, or those of `submission_ids`
    among them) that were not regraded from it yet, are not being graded now, and still carry the
    machine's grade: one new
    GradingJob per submission on the same revision (courseapp.services.jobs), in one Regrade batch,
    with an audit entry. The worker grades them with the exemplars and threshold in force when it
    runs. None when there is nothing to regrade."""
    report = RegradeReport.objects.select_for_update().select_related("exercise", "revision").get(pk=report.pk)
    if report.status != JobStatus.DONE:
        raise ValidationError("The report is not ready yet.")
    exercise = report.exercise
    if exercise.current_revision_id != report.revision_id:
        raise ValidationError("The exercise has a newer revision since this report; ask for a new report.")
    changes = report.changes.filter(regrade__isnull=True, submission__overrides__isnull=True).exclude(
        submission__jobs__status__in=(GradingJob.Status.QUEUED, GradingJob.Status.RUNNING)  # being graded now
    )
    if submission_ids is not None:
        changes = changes.filter(submission_id__in={int(i) for i in submission_ids})
    chosen = list(changes.select_related("submission").order_by("submission_id"))
    if not chosen:
        return None
    targets = [c.submission for c in chosen]
    regrade = Regrade.objects.create(
        exercise=exercise, revision=report.revision, scope=Regrade.Scope.ALL, created_by=actor
    )
    jobs_create_for_regrade(targets, regrade)
    RegradeChange.objects.filter(pk__in=[c.pk for c in chosen]).update(regrade=regrade)
    AuditEntry.objects.create(
        course_id=exercise.course_id,
        actor=actor,
        action="regrade",
        target=exercise.slug,
        after={
            "regrade": regrade.pk,
            "report": report.pk,
            "revision": report.revision.content_hash[:12],
            "reason": "exemplars changed",
            "submissions": [s.pk for s in targets],
            "exemplars": report.exemplars,
            "threshold": round(report.threshold, 4) if report.threshold is not None else None,
            "stale": report_is_stale(report),
        },
        reason=f"free-text review: regrade of {len(targets)} answer(s) the teacher's exemplars now grade differently",
    )
    return regrade

"""Teacher-labelled exemplars per exercise revision, and each exercise's review settings.

A decision in the review queue is a GradeOverride (the existing audit trail) plus an Exemplar: the
answer's text with the teacher's band and score, which the worker passes to the free-text grader
for the next answers of that revision. Changing the decision updates the same Exemplar row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from courseapp.models import Exercise, ExerciseRevision, Regrade, Submission


class Band(models.TextChoices):
    FULL = "full", "Full credit"
    PARTIAL = "partial", "Partial credit"
    NONE = "none", "No credit"


class Exemplar(models.Model):
    revision = models.ForeignKey(ExerciseRevision, on_delete=models.CASCADE, related_name="review_exemplars")
    # The answer the decision was about (one exemplar per answer); null for exemplars added by hand.
    submission = models.OneToOneField(
        Submission, null=True, blank=True, on_delete=models.SET_NULL, related_name="review_exemplar"
    )
    text = models.TextField()
    band = models.CharField(max_length=10, choices=Band.choices)
    score = models.FloatField()
    comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = (models.Index(fields=["revision", "decided_at"]),)

    def __str__(self) -> str:
        return f"{self.band} {self.score:g} ({self.revision_id})"


class ReviewSettings(models.Model):
    exercise = models.OneToOneField(Exercise, on_delete=models.CASCADE, related_name="review_settings")
    release_at_due = models.BooleanField(
        default=False, help_text="after the due date, release grades still waiting for review as the machine proposed"
    )
    # Recalibrated from the teacher's labels (None: the exercise's own [review] confidence_threshold).
    confidence_threshold = models.FloatField(null=True, blank=True)
    calibrated_on = models.PositiveIntegerField(default=0, help_text="number of labels the threshold came from")

    def __str__(self) -> str:
        return f"review settings of {self.exercise_id}"


class JobStatus(models.TextChoices):
    """Where a piece of review work done by a Celery task stands (the row is the truth, not Celery)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Calibration(models.Model):
    """One recalibration of an exercise revision's confidence threshold from the teacher's labels
    (grader.freetext.calibrate, leave-one-out at the exercise's target precision), kept as history:
    every teacher decision asks for one (a queued row, measured by a Celery task: the measured fields
    are empty until it is done), and the newest applied one of the revision is the threshold in use."""

    revision = models.ForeignKey(ExerciseRevision, on_delete=models.CASCADE, related_name="review_calibrations")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.DONE)
    threshold = models.FloatField(null=True, blank=True)
    previous = models.FloatField(null=True, blank=True, help_text="the threshold in use before this one")
    labels = models.PositiveIntegerField(null=True, blank=True, help_text="teacher labels it was measured on")
    target_precision = models.FloatField(null=True, blank=True)
    released = models.PositiveIntegerField(
        null=True, blank=True, help_text="labels whose leave-one-out grade is released at the threshold"
    )
    correct = models.PositiveIntegerField(null=True, blank=True, help_text="... of which match the teacher's band")
    two_bands_off = models.PositiveIntegerField(default=0)
    vouched_precision = models.FloatField(
        null=True, blank=True, help_text="Wilson lower bound of the released precision"
    )
    reason = models.CharField(max_length=200, blank=True)
    # False: measured only (too few labels), not measured yet, or failed; the threshold in force did not change.
    applied = models.BooleanField(default=True)
    trigger = models.CharField(max_length=200, blank=True, help_text="what asked for it (a decision, a command)")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = (models.Index(fields=["revision", "-created_at"]),)

    @property
    def pending(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)

    @property
    def precision(self) -> float | None:
        return self.correct / self.released if self.released and self.correct is not None else None

    @property
    def review_share(self) -> float | None:
        return 1 - self.released / self.labels if self.labels and self.released is not None else None

    def __str__(self) -> str:
        if self.threshold is None:
            return f"calibration {self.status} ({self.revision_id})"
        return f"threshold {self.threshold:.3f} from {self.labels} labels ({self.revision_id})"


class RegradeReport(models.Model):
    """A dry-run regrade of an exercise revision, computed by a Celery task: every answer the machine
    graded (no teacher decision) graded again with the exemplars and threshold as they were when the
    task ran, and the answers whose grade would change (RegradeChange rows). `fingerprint` says which
    exemplars and threshold it used: when they change, the report is stale."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="regrade_reports")
    revision = models.ForeignKey(ExerciseRevision, on_delete=models.CASCADE, related_name="regrade_reports")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    total = models.PositiveIntegerField(default=0, help_text="machine-graded answers to examine")
    examined = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    band_changes = models.PositiveIntegerField(default=0)
    exemplars = models.PositiveIntegerField(default=0, help_text="teacher-labelled answers it graded with")
    threshold = models.FloatField(null=True, blank=True, help_text="the confidence threshold it graded with")
    fingerprint = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = (models.Index(fields=["exercise", "-created_at"]),)

    @property
    def pending(self) -> bool:
        return self.status in (JobStatus.QUEUED, JobStatus.RUNNING)

    def __str__(self) -> str:
        return f"regrade report {self.pk} of {self.exercise_id} ({self.status})"


class RegradeChange(models.Model):
    """One machine-graded answer whose grade the report's exemplars and threshold would change."""

    report = models.ForeignKey(RegradeReport, on_delete=models.CASCADE, related_name="changes")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="+")
    before_band = models.CharField(max_length=10)
    before_score = models.FloatField()
    before_provisional = models.BooleanField()
    after_band = models.CharField(max_length=10)
    after_score = models.FloatField()
    after_provisional = models.BooleanField()
    after_confidence = models.FloatField()
    followed = models.CharField(max_length=40, blank=True)
    # Set when the teacher regraded it from this report (one GradingJob in that Regrade).
    regrade = models.ForeignKey(Regrade, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["submission_id"]
        constraints = (models.UniqueConstraint(fields=["report", "submission"], name="review_change_once"),)

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

    def __str__(self) -> str:
        return f"#{self.submission_id}: {self.before_band} -> {self.after_band}"

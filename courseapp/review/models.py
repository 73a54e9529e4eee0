"""Teacher-labelled exemplars per exercise revision, and each exercise's review settings.

A decision in the review queue is a GradeOverride (the existing audit trail) plus an Exemplar: the
answer's text with the teacher's band and score, which the worker passes to the free-text grader
for the next answers of that revision. Changing the decision updates the same Exemplar row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from courseapp.models import Exercise, ExerciseRevision, Submission


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


class Calibration(models.Model):
    """One recalibration of an exercise revision's confidence threshold from the teacher's labels
    (grader.freetext.calibrate, leave-one-out at the exercise's target precision), kept as history:
    every teacher decision adds one, and the newest applied one of the revision is the threshold in use."""

    revision = models.ForeignKey(ExerciseRevision, on_delete=models.CASCADE, related_name="review_calibrations")
    threshold = models.FloatField()
    previous = models.FloatField(null=True, blank=True, help_text="the threshold in use before this one")
    labels = models.PositiveIntegerField(help_text="teacher labels it was measured on")
    target_precision = models.FloatField()
    released = models.PositiveIntegerField(help_text="labels whose leave-one-out grade is released at the threshold")
    correct = models.PositiveIntegerField(help_text="... of which match the teacher's band")
    two_bands_off = models.PositiveIntegerField(default=0)
    vouched_precision = models.FloatField(help_text="Wilson lower bound of the released precision")
    reason = models.CharField(max_length=200)
    # False: measured only (too few labels); the threshold in force did not change.
    applied = models.BooleanField(default=True)
    trigger = models.CharField(max_length=200, blank=True, help_text="what asked for it (a decision, a command)")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = (models.Index(fields=["revision", "-created_at"]),)

    @property
    def precision(self) -> float | None:
        return self.correct / self.released if self.released else None

    @property
    def review_share(self) -> float | None:
        return 1 - self.released / self.labels if self.labels else None

    def __str__(self) -> str:
        return f"threshold {self.threshold:.3f} from {self.labels} labels ({self.revision_id})"

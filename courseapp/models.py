"""Thin models: data and the invariants that belong to a row. Writes go through courseapp.services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from courseapp.appendonly import AppendOnlyManager
from grader.results import Outcome

if TYPE_CHECKING:
    from grader.sandbox.limits import JobLimits


class ImmutableRowError(Exception):
    """Raised when code tries to change a row that is written once (Submission, Result)."""


class InvalidTransition(Exception):
    """Raised when a GradingJob is asked to move to a status its current status does not allow."""


class Course(models.Model):
    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # Queue limits for every exercise of the course (courseapp.services.fairness); empty: the
    # settings' defaults; 0: no limit. An exercise's policy can set its own.
    max_in_flight = models.PositiveIntegerField(
        null=True, blank=True, help_text="a student's jobs queued or running per exercise"
    )
    max_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="a student's submissions per exercise per minute"
    )
    # Students enrol themselves with this code (courseapp.services.rostering); "" = joining is off.
    join_code = models.CharField(max_length=16, blank=True, default="", db_index=True)

    def __str__(self) -> str:
        return self.title


class Enrolment(models.Model):
    class Role(models.TextChoices):
        STUDENT = "student", "Student"
        INSTRUCTOR = "instructor", "Instructor"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolments")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrolments")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.STUDENT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "course"], name="one_enrolment_per_user_course")]

    def __str__(self) -> str:
        return f"{self.user} in {self.course} ({self.role})"


class Exercise(models.Model):
    class Kind(models.TextChoices):
        MODULE = "module", "Code (a PyTorch module)"
        FREETEXT = "freetext", "Free text"
        QUIZ = "quiz", "Quiz"

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="exercises")
    slug = models.SlugField()
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    order = models.IntegerField(default=0)
    queue = models.CharField(max_length=10, default="cpu")  # "cpu" or "gpu": which workers grade it
    # The revision new submissions are made against (set by exercise_sync; a folder reverted to an
    # older content points back at that older revision).
    current_revision = models.ForeignKey(
        "ExerciseRevision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["order", "slug"]
        constraints = [models.UniqueConstraint(fields=["course", "slug"], name="exercise_slug_unique_in_course")]

    def __str__(self) -> str:
        return self.title


class ExerciseRevision(models.Model):
    """One version of an exercise folder, identified by the hash of its files.

    `files` keeps the folder's text files, so a worker grades a submission against exactly the
    revision it was made for, even after the folder on disk has moved on.
    """

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="revisions")
    content_hash = models.CharField(max_length=64)
    max_score = models.FloatField()
    prompt = models.TextField()
    starter = models.TextField(blank=True)
    max_chars = models.PositiveIntegerField(default=2000)
    max_source_bytes = models.PositiveIntegerField(default=64 * 1024)
    wall_s = models.FloatField(default=20.0)  # the sandbox's wall limit for one grade (sets the task's limits)
    files = models.JSONField(default=dict)  # {relative path: UTF-8 text}
    # Limits sized to the work, derived at sync from the reference's measured cost (see
    # grader.engine.derive_limits): {wall_s, cpu_s, memory_mb, step_cpu_s, "toml": the TOML's ceilings}.
    # {}: none derived, grades run under the TOML's limits. wall_s above is the derived wall limit.
    limits = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def job_limits(self) -> JobLimits | None:
        """The limits this revision's grades run under (None: the exercise TOML's)."""
        from grader.sandbox.limits import JobLimits

        return JobLimits.from_json(self.limits) if self.limits else None

    class Meta:
        ordering = ["exercise", "-created_at", "-id"]
        get_latest_by = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["exercise", "content_hash"], name="revision_hash_unique_per_exercise")
        ]

    def __str__(self) -> str:
        return f"{self.exercise.slug}@{self.content_hash[:10]}"


class SubmissionQuerySet(models.QuerySet["Submission"]):
    # Deliberately unannotated: the rows carry the annotations below, which the stubs' plugin cannot follow through a method.
    def with_grading(self):
        """Annotate each submission, in SQL, with what `latest_job` and `current_result` give per row:
        `latest_status` (the newest job's status), `current_result_id`, `current_score`,
        `current_max_score`, `current_outcome`, `current_misconceptions` (None where nothing counts yet)."""
        newest_job = GradingJob.objects.filter(submission=OuterRef("pk")).order_by("-id")
        newest_result = Result.objects.filter(job__submission=OuterRef("pk")).order_by("-job_id")
        return self.annotate(
            latest_status=Subquery(newest_job.values("status")[:1]),
            current_result_id=Subquery(newest_result.values("id")[:1]),
            current_score=Subquery(newest_result.values("score")[:1]),
            current_max_score=Subquery(newest_result.values("max_score")[:1]),
            current_outcome=Subquery(newest_result.values("outcome")[:1]),
            current_misconceptions=Subquery(newest_result.values("misconceptions")[:1]),
        )


class Submission(models.Model):
    """What a student handed in. Written once; never changed (after edx-submissions). Each grading of
    it, the first and every regrade, is a GradingJob of its own with its own Result."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submissions")
    revision = models.ForeignKey(ExerciseRevision, on_delete=models.PROTECT, related_name="submissions")
    source = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "revision"])]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRowError("a submission is immutable once saved")
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"submission {self.pk} by {self.user}"

    # One submission, many gradings (the first one, then one per regrade). Which one the student
    # and the gradebook see is decided here and in SubmissionQuerySet.with_grading, nowhere else.
    # Both read `self.jobs.all()`, so a selector that prefetched `jobs` (with `result`) pays no query.

    @property
    def latest_job(self) -> GradingJob | None:
        """The newest grading job: its status is the submission's status."""
        return max(self.jobs.all(), key=lambda job: job.pk, default=None)

    @property
    def current_result(self) -> Result | None:
        """The result that counts: that of the newest job that recorded one (a regrade that failed
        leaves the previous result in force)."""
        graded = [job for job in self.jobs.all() if hasattr(job, "result")]
        newest = max(graded, key=lambda job: job.pk, default=None)
        return newest.result if newest is not None else None


class GradingJob(models.Model):
    """The life of grading one submission. Its status changes only through `transition`."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # The one table of allowed moves. running -> running is a retry after a lost worker;
    # running -> queued puts a job back after an infrastructure failure (retried with back-off).
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.QUEUED: frozenset({Status.RUNNING, Status.FAILED}),
        Status.RUNNING: frozenset({Status.RUNNING, Status.QUEUED, Status.DONE, Status.FAILED}),
        Status.DONE: frozenset(),
        Status.FAILED: frozenset(),
    }

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="jobs")
    # What the submission is graded against: its own revision for the first grading, the regrade's
    # (newer) revision for a regrade.
    revision = models.ForeignKey(ExerciseRevision, on_delete=models.PROTECT, related_name="+")
    regrade = models.ForeignKey("Regrade", null=True, blank=True, on_delete=models.PROTECT, related_name="jobs")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    queue = models.CharField(max_length=50, default="grade.cpu")
    created_at = models.DateTimeField(default=timezone.now)  # when this grading was asked for
    queued_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The latest progress event while running (e.g. a training step and its loss); shown live.
    progress = models.JSONField(default=dict, blank=True)

    class Meta:
        # (queue, finished_at): how fast a queue drains lately, for the wait shown to a queued student
        indexes = [models.Index(fields=["status"]), models.Index(fields=["queue", "finished_at"])]

    def can_transition(self, to: str) -> bool:
        return to in self.TRANSITIONS[self.status]

    def transition(self, to: str, *, error: str = "") -> None:
        """Move to `to` (not saved), stamping the phase's time; raise InvalidTransition if not allowed."""
        if not self.can_transition(to):
            raise InvalidTransition(f"grading job {self.pk}: {self.status} -> {to} is not allowed")
        now = timezone.now()
        if to == self.Status.RUNNING:
            self.attempts += 1
            self.started_at = now
        elif to == self.Status.QUEUED:
            self.queued_at = now
        elif to in (self.Status.DONE, self.Status.FAILED):
            self.finished_at = now
        self.status = to
        self.error = error

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    def __str__(self) -> str:
        return f"job {self.pk} ({self.status})"


class Result(models.Model):
    """The grade of one job (contracts.md §2 shape). Written once."""

    objects = AppendOnlyManager()  # no update()/delete(), no cascade (courseapp.appendonly)

    job = models.OneToOneField(GradingJob, on_delete=models.PROTECT, related_name="result")
    score = models.FloatField()
    max_score = models.FloatField()
    # The contract's closed sets (contracts.md section 2; grader.results.Outcome).
    STATUS_CHOICES = [
        ("graded", "graded"),
        ("error", "error (the grader's fault)"),
        ("rejected", "rejected (bad input)"),
    ]
    OUTCOME_CHOICES = [(outcome.value, outcome.value) for outcome in Outcome]

    status = models.CharField(max_length=10, choices=STATUS_CHOICES)
    outcome = models.CharField(max_length=10, choices=OUTCOME_CHOICES)
    output = models.TextField(blank=True)
    tests = models.JSONField(default=list)
    misconceptions = models.JSONField(default=list)
    execution = models.JSONField(default=dict)
    stdout = models.TextField(blank=True)
    extra = models.JSONField(default=dict, blank=True)  # exercise-specific data, e.g. training curves
    created_at = models.DateTimeField(auto_now_add=True)

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRowError("a result is append-only: it is never changed once saved")
        super().save(*args, **kwargs)

    @property
    def full_marks(self) -> bool:
        return self.status == "graded" and abs(self.score - self.max_score) < 1e-9

    def __str__(self) -> str:
        return f"{self.score:g}/{self.max_score:g} ({self.outcome})"


# ---- instructor side: policies, extensions, overrides, audit trail, regrades ---------------------


class ExercisePolicy(models.Model):
    """When and how often an exercise may be submitted, and when hidden checks are revealed.
    No row (or empty fields) means: open, no deadline, no limits."""

    class Reveal(models.TextChoices):
        NEVER = "never", "Never"
        AFTER_DUE = "after_due", "After the due date"
        ALWAYS = "always", "Always"

    exercise = models.OneToOneField(Exercise, on_delete=models.CASCADE, related_name="policy")
    opens_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    late_until = models.DateTimeField(null=True, blank=True, help_text="late submissions accepted until then")
    late_credit = models.FloatField(default=1.0, help_text="fraction of the score a late submission keeps (0..1)")
    max_attempts = models.PositiveIntegerField(null=True, blank=True)
    min_seconds_between = models.PositiveIntegerField(default=0)
    reveal_hidden = models.CharField(max_length=10, choices=Reveal.choices, default=Reveal.NEVER)
    # Queue limits (courseapp.services.fairness): empty = the course's; 0 = no limit.
    max_in_flight = models.PositiveIntegerField(null=True, blank=True)
    max_per_minute = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"policy for {self.exercise}"


class Extension(models.Model):
    """One student's own due date (and late window end) for one exercise."""

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="extensions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="extensions")
    due_at = models.DateTimeField()
    late_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["exercise", "user"], name="one_extension_per_user_exercise")]


class GradeOverride(models.Model):
    """An instructor's grade for a submission, replacing the computed one. Append-only: the newest
    row is the one in force; older rows stay as history."""

    objects = AppendOnlyManager()  # no update()/delete(), no cascade (courseapp.appendonly)

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="overrides")
    score = models.FloatField()
    comment = models.TextField(blank=True, help_text="shown to the student")
    reason = models.TextField(help_text="why the grade was changed (audit trail)")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRowError("an override is append-only")
        super().save(*args, **kwargs)


class AuditEntry(models.Model):
    """Who changed what, when (overrides, policies, extensions, regrades)."""

    objects = AppendOnlyManager()  # no update()/delete(), no cascade (courseapp.appendonly)

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="audit_entries")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=40)
    target = models.CharField(max_length=200)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ImmutableRowError("the audit trail is append-only")
        super().save(*args, **kwargs)


class Regrade(models.Model):
    """A batch: submissions of one exercise graded again against a (newer) revision. Each regraded
    submission gets one more GradingJob (`jobs`, with `regrade` set); nothing is copied."""

    class Scope(models.TextChoices):
        LATEST = "latest", "Each student's latest submission"
        ALL = "all", "Every submission"

    exercise = models.ForeignKey(Exercise, on_delete=models.CASCADE, related_name="regrades")
    revision = models.ForeignKey(ExerciseRevision, on_delete=models.PROTECT, related_name="+")
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.LATEST)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

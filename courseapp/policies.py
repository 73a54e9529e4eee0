"""Exercise policies: the submission window, late credit, attempt and rate limits, hidden-check reveal.

The rules every layer applies (services to refuse a submission, selectors to count a grade, views to
show what is left): pure arithmetic on a `Window` (the exercise's policy with the student's extension
applied), unit-tested without a database, and the two reads that build one (`window_for`,
`attempt_usage`). Changing a policy or granting an extension is a write: services.instructor.

Rules:
- no policy row, or empty fields: open now, no deadline, no limits;
- before `opens_at`: closed;
- up to `due_at` (inclusive): on time, full credit;
- after `due_at` up to `late_until` (inclusive): late, the score is multiplied by `late_credit`;
- after `late_until` (or after `due_at` when there is no late window): closed, credit 0;
- an extension replaces the due date; its late window ends at its own `late_until`, else the
  course's late window is shifted by the same amount as the due date.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, Max, OuterRef, QuerySet
from django.utils import timezone

from courseapp.models import Exercise, ExercisePolicy, Extension, GradingJob, Submission


@dataclass(frozen=True)
class Window:
    opens_at: datetime | None = None
    due_at: datetime | None = None
    late_until: datetime | None = None
    late_credit: float = 1.0
    max_attempts: int | None = None
    min_seconds_between: int = 0
    reveal_hidden: str = "never"
    extended: bool = False

    @property
    def closes_at(self) -> datetime | None:
        if self.due_at is None:
            return None
        return self.late_until if self.late_until and self.late_until > self.due_at else self.due_at


DEFAULT = Window()


def window_from(policy: ExercisePolicy | None, extension: Extension | None = None) -> Window:
    """The Window for a policy row (or None) and an optional Extension row."""
    if policy is None:
        base = DEFAULT
    else:
        base = Window(
            opens_at=policy.opens_at,
            due_at=policy.due_at,
            late_until=policy.late_until,
            late_credit=min(max(float(policy.late_credit), 0.0), 1.0),
            max_attempts=policy.max_attempts,
            min_seconds_between=policy.min_seconds_between or 0,
            reveal_hidden=policy.reveal_hidden,
        )
    if extension is None:
        return base
    late_until = extension.late_until
    if late_until is None and base.due_at and base.late_until and base.late_until > base.due_at:
        late_until = extension.due_at + (base.late_until - base.due_at)
    return Window(
        opens_at=base.opens_at,
        due_at=extension.due_at,
        late_until=late_until,
        late_credit=base.late_credit,
        max_attempts=base.max_attempts,
        min_seconds_between=base.min_seconds_between,
        reveal_hidden=base.reveal_hidden,
        extended=True,
    )


def late_factor(window: Window, at: datetime) -> float:
    """The fraction of the score a submission made at `at` keeps."""
    if window.due_at is None or at <= window.due_at:
        return 1.0
    if window.late_until is not None and at <= window.late_until:
        return window.late_credit
    return 0.0


def is_late(window: Window, at: datetime) -> bool:
    return window.due_at is not None and at > window.due_at


def adjusted_score(score: float | None, window: Window, at: datetime) -> float | None:
    return None if score is None else score * late_factor(window, at)


def attempts_left(window: Window, used: int) -> int | None:
    return None if window.max_attempts is None else max(window.max_attempts - used, 0)


def seconds_to_wait(window: Window, last_at: datetime | None, now: datetime) -> int:
    if not window.min_seconds_between or last_at is None:
        return 0
    left = window.min_seconds_between - (now - last_at).total_seconds()
    return max(math.ceil(left), 0)


def submission_gate(window: Window, *, now: datetime, used: int, last_at: datetime | None) -> None:
    """Raise ValidationError (a message for the student) when a submission is not allowed now."""
    if window.opens_at is not None and now < window.opens_at:
        raise ValidationError(f"This exercise opens on {timezone.localtime(window.opens_at):%d %b %Y, %H:%M}.")
    closes = window.closes_at
    if closes is not None and now > closes:
        raise ValidationError("This exercise is closed: the deadline has passed.")
    left = attempts_left(window, used)
    if left == 0:
        raise ValidationError(f"You have used all {window.max_attempts} attempts for this exercise.")
    wait = seconds_to_wait(window, last_at, now)
    if wait:
        raise ValidationError(f"Please wait {wait} more second{'s' if wait != 1 else ''} before submitting again.")


def reveal_hidden(window: Window, now: datetime) -> bool:
    """Whether a student may see hidden checks' diagnostic output now."""
    if window.reveal_hidden == "always":
        return True
    if window.reveal_hidden == "after_due":
        end = window.closes_at
        return end is not None and now > end
    return False


# ---- database reads --------------------------------------------------------------------------


def policy_for(exercise: Exercise, *, as_loaded: bool = False) -> ExercisePolicy | None:
    """The exercise's policy row, or None (1 query). `as_loaded`: the row read with the exercise
    when it was (select_related("policy"), as the student pages' selectors do; no query): for a page
    that shows it, not for a gate that must see the row as it is now."""
    if as_loaded and Exercise.policy.is_cached(exercise):
        return getattr(exercise, "policy", None)  # a missing row raises DoesNotExist: None
    return ExercisePolicy.objects.filter(exercise=exercise).first()


def window_for(exercise: Exercise, user: User) -> Window:
    """The Window for one student on one exercise (2 queries)."""
    return window_for_policy(policy_for(exercise), exercise, user)


def window_for_policy(policy: ExercisePolicy | None, exercise: Exercise, user: User) -> Window:
    """window_for with the exercise's policy row already read (policy_for): 1 query, the extension."""
    extension = Extension.objects.filter(exercise=exercise, user=user).first() if policy else None
    return window_from(policy, extension)


def student_attempts(exercise: Exercise, user: User) -> QuerySet[Submission]:
    """The student's own submissions to the exercise (each one attempt, however often it was graded)."""
    return Submission.objects.filter(user=user, revision__exercise=exercise)


def attempt_usage_of(submissions: list[Submission]) -> tuple[int, datetime | None]:
    """attempt_usage from ALL of the student's submissions to the exercise, each with its jobs
    prefetched (the page's history): the same count without another query."""
    used = sum(
        1
        for s in submissions
        if not any(j.regrade_id is None and j.status == GradingJob.Status.FAILED for j in s.jobs.all())
    )
    return used, max((s.created_at for s in submissions), default=None)


def attempt_usage(exercise: Exercise, user: User) -> tuple[int, datetime | None]:
    """(attempts used, when the last submission was made). A submission whose job failed (the
    grader's fault, never the student's) does not use up an attempt; it still counts for the rate."""
    # Its first grading (not a regrade) failed: a regrade that fails later gives nothing back.
    first_grading_failed = GradingJob.objects.filter(
        submission=OuterRef("pk"), regrade__isnull=True, status=GradingJob.Status.FAILED
    )
    agg = student_attempts(exercise, user).aggregate(
        n=Count("id", filter=~Exists(first_grading_failed)), last=Max("created_at")
    )
    return agg["n"], agg["last"]

"""Fair, bounded grading queues (issue 12): one student cannot hold up the class.

Two parts:

1. **Limits at the door** (`submission_limits_gate`, called by submission_create under the
   student's enrolment lock): at most `max_in_flight` of the student's jobs queued or running per
   exercise (default 1), and at most `max_per_minute` submissions per exercise in any 60 seconds.
   Each is configurable per exercise (ExercisePolicy), per course (Course) and by default
   (settings.GRADING_MAX_IN_FLIGHT, GRADING_MAX_PER_MINUTE); 0 means no limit. A refused submit
   says which limit applies and when to try again.

2. **Fair order in the queue** (`job_priority`, used when a job is sent): Celery on Redis keeps one
   list per priority and a worker always takes from the most urgent non-empty list. A job's priority
   is the number of its student's other unfinished jobs on that queue when it is sent: everyone's
   first job is priority 0, a student's second in a row is 1, and so on (capped at 8). So however
   many jobs one student has queued, another student's first job is taken before that student's
   second. Regrade jobs (the instructor's batch) get 9, behind every student's own submission.
   Retries are sent with the priority they get again then. (The embedded filesystem broker has no
   priorities: jobs are then served in order, and only the limits apply.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import QuerySet

    from courseapp.models import Exercise, ExercisePolicy, GradingJob, Submission

REGRADE_PRIORITY = 9
MAX_STUDENT_PRIORITY = 8
RATE_WINDOW_S = 60


@dataclass(frozen=True)
class QueueLimits:
    max_in_flight: int  # 0: no limit
    max_per_minute: int  # 0: no limit


def _first_set(*values: int | None) -> int:
    return next((v for v in values if v is not None), 0)


def queue_limits(exercise: "Exercise") -> QueueLimits:
    """The exercise's limits: its policy's, else its course's, else the settings' defaults (1 query)."""
    from courseapp import policies

    return queue_limits_for_policy(exercise, policies.policy_for(exercise))


def queue_limits_for_policy(exercise: "Exercise", policy: "ExercisePolicy | None") -> QueueLimits:
    """queue_limits with the exercise's policy row already read (policies.policy_for): no query."""
    course = exercise.course
    return QueueLimits(
        max_in_flight=_first_set(
            getattr(policy, "max_in_flight", None), course.max_in_flight, settings.GRADING_MAX_IN_FLIGHT
        ),
        max_per_minute=_first_set(
            getattr(policy, "max_per_minute", None), course.max_per_minute, settings.GRADING_MAX_PER_MINUTE
        ),
    )


def _unfinished() -> "QuerySet[GradingJob]":
    from courseapp.models import GradingJob

    return GradingJob.objects.filter(
        status__in=(GradingJob.Status.QUEUED, GradingJob.Status.RUNNING), regrade__isnull=True
    )


def in_flight_of(submissions: "list[Submission]") -> int:
    """in_flight from ALL of the student's submissions to the exercise, each with its jobs prefetched
    (the page's history), without another query."""
    return sum(1 for s in submissions for j in s.jobs.all() if not j.is_finished and j.regrade_id is None)


def in_flight(user: "User", exercise: "Exercise") -> int:
    """The student's own jobs for the exercise that are queued or running (regrades are not theirs)."""
    return _unfinished().filter(submission__user=user, revision__exercise=exercise).count()


def submission_limits_gate(user: "User", exercise: "Exercise", now: datetime, policy: "ExercisePolicy | None") -> None:
    """Raise ValidationError (a message for the student) when a queue limit refuses a submission;
    `policy`: the exercise's policy row (policies.policy_for)."""
    from courseapp import policies

    limits = queue_limits_for_policy(exercise, policy)
    if limits.max_in_flight:
        busy = in_flight(user, exercise)
        if busy >= limits.max_in_flight:
            which = "Your last submission is" if limits.max_in_flight == 1 else f"{busy} of your submissions are"
            raise ValidationError(
                f"{which} still being graded. You can submit again as soon as its feedback is in "
                f"(at most {limits.max_in_flight} at a time for this exercise, so that everyone's work is graded "
                f"promptly)."
            )
    if limits.max_per_minute:
        since = now - timedelta(seconds=RATE_WINDOW_S)
        recent = sorted(
            policies.student_attempts(exercise, user).filter(created_at__gt=since).values_list("created_at", flat=True)
        )
        if len(recent) >= limits.max_per_minute:
            oldest = recent[-limits.max_per_minute]
            wait = max(1, math.ceil((oldest + timedelta(seconds=RATE_WINDOW_S) - now).total_seconds()))
            raise ValidationError(
                f"You have submitted {len(recent)} times in the last minute (the limit is {limits.max_per_minute}). "
                f"Please wait {wait} second{'s' if wait != 1 else ''} before submitting again."
            )


def job_priority(job: "GradingJob") -> int:
    """The Celery priority to send `job` with (0 = first): see the module's docstring."""
    if job.regrade_id is not None:
        return REGRADE_PRIORITY
    ahead = _unfinished().filter(submission__user_id=job.submission.user_id, queue=job.queue).exclude(pk=job.pk).count()
    return min(ahead, MAX_STUDENT_PRIORITY)

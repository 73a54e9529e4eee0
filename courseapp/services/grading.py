"""grading_job_run: take one job through running to done (or failed). Safe to call twice.

Error taxonomy (architecture.md): a bad submission is a normal graded result; a grader or
infrastructure exception is retried with back-off up to GRADING_MAX_ATTEMPTS, then the job fails
with a clear message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import db
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from courseapp.logs import log_context
from courseapp.models import GradingJob, Result
from courseapp.services.grader_runtime import get_grader, revision_folder
from courseapp.services.grade_events import final_grade_changed_on_commit
from courseapp.services.jobs import job_deadline_s, job_enqueue, job_lock
from grader.exercise import load_exercise

if TYPE_CHECKING:
    from grader.engine import Grader
    from grader.results import GradeResult

log = logging.getLogger(__name__)

Status = GradingJob.Status


def _start(job_id: int, *, redelivered: bool = False) -> GradingJob | None:
    """Lock the job and mark it running; None when there is nothing (more) to do."""
    with transaction.atomic():
        job = job_lock(job_id)
        if job is None:
            log.warning("grading job %s does not exist; dropping the message", job_id)
            return None
        if job.is_finished:
            log.info(
                "grading job %s is already %s; nothing to do",
                job_id,
                job.status,
                extra={"job_id": job_id, "submission_id": job.submission_id},
            )
            return None
        if (
            job.status == Status.RUNNING
            and not redelivered
            and job.started_at is not None
            and (timezone.now() - job.started_at).total_seconds() < job_deadline_s(job)
        ):
            # A second message for a job another worker is grading right now (the reconciler re-sent
            # it, or a duplicate delivery): no-op. A redelivery after a lost worker carries
            # redelivered=True; a job past its deadline is taken over.
            log.info(
                "grading job %s is being graded elsewhere; dropping a duplicate message",
                job_id,
                extra={"job_id": job_id, "submission_id": job.submission_id},
            )
            return None
        if job.status == Status.RUNNING and job.attempts >= settings.GRADING_MAX_ATTEMPTS:
            # Redelivered after the worker died mid-job, once too often.
            job.transition(
                Status.FAILED,
                error=(
                    f"Grading stopped {job.attempts} times without finishing (the worker was lost); "
                    "it will not be retried."
                ),
            )
            job.save()
            return None
        job.transition(Status.RUNNING)
        job.save()
        return job


def grading_job_record(job_id: int, grade: "GradeResult") -> Result | None:
    """Store the grade and mark the job done, unless another run finished it first."""
    from courseapp.sanitize import safe_grade_data

    data = safe_grade_data(grade.to_json())  # capped, no NUL: Postgres refuses NUL in text and jsonb
    with transaction.atomic():
        job = job_lock(job_id)
        if job is None or job.status != Status.RUNNING or Result.objects.filter(job=job).exists():
            log.info("grading job %s was finished elsewhere; discarding this grade", job_id)
            return None
        result = Result.objects.create(
            job=job,
            score=data["score"],
            max_score=data["max_score"],
            status=data["status"],
            outcome=data["outcome"],
            output=data.get("output", ""),
            tests=data.get("tests", []),
            misconceptions=data.get("misconceptions", []),
            execution=data.get("execution", {}),
            stdout=data.get("stdout", ""),
            extra=data.get("extra", {}),
        )
        job.transition(Status.DONE)
        job.save()
        final_grade_changed_on_commit(
            user_id=job.submission.user_id,
            exercise_id=job.revision.exercise_id,
            reason="regrade" if job.regrade_id else "graded",
        )
        return result


def grading_job_fail(job_id: int, message: str, *, retry: bool = True) -> GradingJob | None:
    """An infrastructure failure: put the job back with back-off while attempts remain, else fail it."""
    with transaction.atomic():
        job = job_lock(job_id)
        if job is None or job.is_finished:
            return job
        if retry and job.status == Status.RUNNING and job.attempts < settings.GRADING_MAX_ATTEMPTS:
            delay = settings.GRADING_RETRY_BACKOFF_S * 2 ** (job.attempts - 1)
            job.transition(Status.QUEUED, error=f"Grading delayed (attempt {job.attempts} failed): {message}")
            job.save()
            job_enqueue(job, countdown=delay)
            log.warning(
                "grading job %s: attempt %s failed, retrying in %.0f s: %s", job_id, job.attempts, delay, message
            )
        else:
            job.transition(Status.FAILED, error=(f"Grading failed after {job.attempts} attempt(s): {message}"))
            job.save()
            log.error("grading job %s failed: %s", job_id, message)
        return job


PROGRESS_MIN_INTERVAL_S = 0.5


def _progress_writer(job_id: int) -> Callable[[str, dict[str, Any]], None]:
    """A progress callback for the grader: stores the latest event on the job row, at most twice a
    second (one small UPDATE; the page polls it). Check-by-check events of fast grades are skipped."""
    last = [0.0]

    def write(event: str, data: dict[str, Any]) -> None:
        if event == "check":
            return
        now = time.monotonic()
        if now - last[0] < PROGRESS_MIN_INTERVAL_S and event != "measured":
            return
        last[0] = now
        try:
            GradingJob.objects.filter(pk=job_id, status=Status.RUNNING).update(progress={"event": event, **data})
        except Exception:  # noqa: BLE001 - progress is best effort; a database hiccup must not fail the grade
            log.warning("grading job %s: could not store progress", job_id, exc_info=True)

    return write


def _review_inputs(revision) -> dict:  # type: ignore[no-untyped-def]
    """Free text: the teacher's labelled exemplars of this revision and the course's recalibrated
    threshold (courseapp.review), passed only when there are any."""
    if revision.exercise.kind != "freetext":
        return {}
    from courseapp.review.services import grading_inputs

    inputs = grading_inputs(revision)
    return inputs if inputs["exemplars"] or inputs["threshold"] is not None else {}


def _limit_inputs(revision) -> dict:  # type: ignore[no-untyped-def]
    """The limits derived for this revision at sync (sized to its reference's cost), passed only when
    there are any: without them the grader uses the exercise TOML's."""
    limits = revision.job_limits()
    return {"limits": limits} if limits is not None else {}


def grading_job_run(job_id: int, *, grader: "Grader | None" = None, redelivered: bool = False) -> None:
    """Grade the job's submission with the worker's Grader and record the result."""
    with log_context(job_id=job_id):
        _run(job_id, grader=grader, redelivered=redelivered)


def _run(job_id: int, *, grader: "Grader | None", redelivered: bool) -> None:
    job = _start(job_id, redelivered=redelivered)
    if job is None:
        return
    submission = job.submission
    revision = job.revision
    log.info(
        "grading job %s: started (attempt %s)",
        job_id,
        job.attempts,
        extra={
            "submission_id": submission.pk,
            "event": "grade_started",
            "attempt": job.attempts,
            "exercise": revision.exercise.slug,
            "queue": job.queue,
        },
    )
    try:
        spec = load_exercise(revision_folder(revision))
        if spec.content_hash != revision.content_hash:
            raise RuntimeError(
                f"the unpacked exercise {spec.slug} hashes to {spec.content_hash[:12]}, "
                f"not its revision's {revision.content_hash[:12]}"
            )
        grade = (grader or get_grader()).grade(
            spec,
            submission.source.encode("utf-8"),
            progress=_progress_writer(job_id),
            **_review_inputs(revision),
            **_limit_inputs(revision),
        )
    except Exception as exc:  # the grader's or the machine's fault, never the student's
        log.exception("grading job %s: the grader raised", job_id)
        grading_job_fail(job_id, f"{type(exc).__name__}: {exc}")
        return
    _record_with_retries(job_id, grade)
    log.info(
        "grading job %s: %s, %s/%s",
        job_id,
        grade.outcome.value,
        grade.score,
        grade.max_score,
        extra={
            "submission_id": submission.pk,
            "event": "grade_finished",
            "outcome": grade.outcome.value,
            "score": grade.score,
            "wall_s": round(grade.execution.wall_s, 3),
        },
    )


def _record_with_retries(job_id: int, grade: "GradeResult", tries: int = 6) -> None:
    """Store the grade; if the database is briefly away (a restart), wait and try again rather than
    throw the grade away."""
    for attempt in range(tries):
        try:
            grading_job_record(job_id, grade)
            return
        except (db.OperationalError, db.InterfaceError):
            if attempt == tries - 1:
                raise
            log.warning(
                "grading job %s: the database is unavailable; retrying the write", job_id, extra={"job_id": job_id}
            )
            for conn in db.connections.all():
                conn.close()
            time.sleep(min(2**attempt, 8))

"""Assignment and Grade Services: the passback outbox and the one send that drains it.

A grade change (courseapp.signals.final_grade_changed) marks the (user, exercise) row due; a send
reads the final grade as the gradebook computes it at that moment, finds the line item (the
launch's, else the one with resourceId = slug, created once) and posts the score through pylti1p3.
A send the platform refuses, or cannot take because it is down, is retried with back-off until it
is accepted: by the send task itself and by the periodic drain, which also finds rows whose task
was lost.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem as AgsLineItem

from courseapp.lti.http import CachedTokenConnector
from courseapp.lti.models import LineItem, LtiContext, LtiUser, Passback
from courseapp.lti.tool_config import registration_for
from courseapp import selectors_gradebook as gradebook
from courseapp.models import Exercise

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinalGrade:
    score: float
    max_score: float
    provisional: bool


def final_grade(user_id: int, exercise: Exercise) -> FinalGrade | None:
    """The student's final grade for the exercise by the gradebook's rule, or None before any grade.
    Provisional grades (free text waiting for review) do not count in the gradebook; when nothing
    else does, the grade is provisional (sent as PendingManual without a score)."""
    attempts = gradebook.attempts_for_course(exercise.course, exercise_ids=[exercise.pk], user_ids=[user_id])
    cell = gradebook.cells(attempts).get((user_id, exercise.pk))
    if cell is None or (cell.final is None and not cell.pending):
        return None
    max_score = exercise.current_revision.max_score if exercise.current_revision else attempts[-1].max_score
    if cell.final is None:  # only a grade waiting for review (courseapp.review): PendingManual, no score
        return FinalGrade(score=0.0, max_score=float(max_score), provisional=True)
    return FinalGrade(score=float(cell.final), max_score=float(max_score), provisional=False)


# ---- the outbox ---------------------------------------------------------------------------------


def passback_enqueue(*, user_id: int, exercise_id: int, reason: str) -> Passback | None:
    """Mark (user, exercise) due, if the exercise's course came from an LTI context and the user from
    its platform; returns the row (None when there is nothing to send to)."""
    exercise = Exercise.objects.filter(pk=exercise_id).select_related("course__lti_context__platform").first()
    context = getattr(exercise.course, "lti_context", None) if exercise is not None else None
    if context is None or not LtiUser.objects.filter(issuer=context.platform.issuer, user_id=user_id).exists():
        return None
    now = timezone.now()
    with transaction.atomic():
        row, created = Passback.objects.select_for_update().get_or_create(
            user_id=user_id, exercise_id=exercise_id, defaults={"changed_at": now, "reason": reason}
        )
        if not created:
            Passback.objects.filter(pk=row.pk).update(
                version=F("version") + 1, changed_at=now, reason=reason, next_attempt_at=now, failures=0
            )
    from courseapp.lti.tasks import passback_send

    transaction.on_commit(lambda: passback_send.apply_async(args=[row.pk], queue=settings.MAINTENANCE_QUEUE))
    return row


def _backoff(failures: int) -> timedelta:
    seconds = settings.LTI_PASSBACK_BACKOFF_S * (2 ** max(0, failures - 1))
    return timedelta(seconds=min(seconds, settings.LTI_PASSBACK_BACKOFF_MAX_S))


def _claim(passback_id: int) -> Passback | None:
    """Take a due, unsent row for one send (a lease: nobody else sends it meanwhile)."""
    now = timezone.now()
    claimed = Passback.objects.filter(pk=passback_id, next_attempt_at__lte=now, sent_version__lt=F("version")).update(
        next_attempt_at=now + timedelta(seconds=settings.LTI_PASSBACK_LEASE_S)
    )
    return (
        Passback.objects.select_related("exercise__course", "exercise__current_revision").get(pk=passback_id)
        if claimed
        else None
    )


def _ags_for(context: LtiContext, lineitem_url: str | None = None) -> AssignmentsGradesService:
    connector = CachedTokenConnector(context.platform_id, registration_for(context.platform))
    service_data = {"scope": list(context.ags_scopes), "lineitems": context.lineitems_url}
    if lineitem_url:
        service_data["lineitem"] = lineitem_url
    return AssignmentsGradesService(connector, service_data)  # type: ignore[arg-type]  # pylti1p3 types service_data as a TypedDict we fill from JSON


def lineitem_url_for(context: LtiContext, exercise: Exercise, ags: AssignmentsGradesService) -> str:
    """The launch's line item for the exercise if one was given, else the line item with resourceId =
    the slug, found or created once (label: the title, scoreMaximum: the max score)."""
    known = LineItem.objects.filter(context=context, exercise=exercise).values_list("url", flat=True).first()
    if known:
        return known
    if not context.lineitems_url:
        raise RuntimeError(f"{context}: no launch gave a line items URL (AGS) yet")
    wanted = (
        AgsLineItem()
        .set_resource_id(exercise.slug)
        .set_label(exercise.title)
        .set_score_maximum(exercise.current_revision.max_score if exercise.current_revision else 0)
    )
    found = ags.find_or_create_lineitem(wanted, find_by="resource_id")
    url = found.get_id()
    if not url:
        raise RuntimeError(f"{context}: the platform's line item for {exercise.slug} has no id")
    row, _ = LineItem.objects.get_or_create(context=context, exercise=exercise, defaults={"url": url})
    return row.url


def score_body(row: Passback, sub: str, grade: FinalGrade) -> Grade:
    body = (
        Grade()
        .set_user_id(sub)
        .set_score_maximum(grade.max_score)
        .set_timestamp(row.changed_at.isoformat())
        .set_activity_progress("Completed")
    )
    if grade.provisional:
        return body.set_grading_progress("PendingManual")  # and no scoreGiven (contract)
    return body.set_grading_progress("FullyGraded").set_score_given(max(0.0, grade.score))


def _send(row: Passback) -> dict:
    """Post the row's current grade; returns what was sent ({} when there is no grade to send)."""
    exercise = row.exercise
    context = LtiContext.objects.select_related("platform").get(course_id=exercise.course_id)
    sub = (
        LtiUser.objects.filter(issuer=context.platform.issuer, user_id=row.user_id)
        .values_list("sub", flat=True)
        .first()
    )
    grade = final_grade(row.user_id, exercise)
    if sub is None or grade is None:
        return {}
    ags = _ags_for(context)
    url = lineitem_url_for(context, exercise, ags)
    score = score_body(row, sub, grade)
    ags.put_grade(score, AgsLineItem({"id": url}))
    return {"lineitem": url, **json.loads(score.get_value())}


def passback_send(passback_id: int) -> bool | None:
    """One attempt at a due row: True sent, False failed (retried later), None not due or taken."""
    row = _claim(passback_id)
    if row is None:
        return None
    version = row.version
    try:
        sent = _send(row)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, the row stays due and is retried
        failures = row.failures + 1
        delay = _backoff(failures)
        Passback.objects.filter(pk=row.pk).update(
            failures=failures, next_attempt_at=timezone.now() + delay, last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        log.warning(
            "lti passback failed; retrying",
            extra={
                "event": "lti_passback_failed",
                "passback": row.pk,
                "failures": failures,
                "retry_in_s": delay.total_seconds(),
                "error": f"{type(exc).__name__}: {exc}"[:500],
            },
        )
        return False
    done = Passback.objects.filter(pk=row.pk, version=version).update(
        sent_version=version, sent_at=timezone.now(), failures=0, last_error="", last_sent=sent
    )
    if not done:  # a newer change came in meanwhile: its own send (already queued) carries it
        Passback.objects.filter(pk=row.pk).update(failures=0, last_error="")
    log.info("lti passback sent", extra={"event": "lti_passback_sent", "passback": row.pk, "version": version})
    return True


def passback_drain(limit: int = 500) -> dict[str, int]:
    """Send every due row (the periodic task, and `manage.py lti_passback`)."""
    due = list(
        Passback.objects.filter(next_attempt_at__lte=timezone.now(), sent_version__lt=F("version"))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    counts = {"due": len(due), "sent": 0, "failed": 0}
    for pk in due:
        outcome = passback_send(pk)
        if outcome is True:
            counts["sent"] += 1
        elif outcome is False:
            counts["failed"] += 1
    return counts

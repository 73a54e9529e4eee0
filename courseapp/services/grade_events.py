"""Telling other apps that a student's final grade may have changed (courseapp.signals)."""

from __future__ import annotations

import logging

from django.db import transaction

from courseapp.signals import final_grade_changed

log = logging.getLogger(__name__)


def final_grade_changed_on_commit(*, user_id: int, exercise_id: int, reason: str) -> None:
    """Send `final_grade_changed` once the current transaction commits (receivers see the rows;
    nothing is sent on a rollback). A receiver that raises is logged: the grade is already stored
    and the caller (a worker, a page) must not fail for it."""

    def send() -> None:
        for receiver, outcome in final_grade_changed.send_robust(
            sender=None, user_id=user_id, exercise_id=exercise_id, reason=reason
        ):
            if isinstance(outcome, Exception):
                log.error(
                    "final_grade_changed receiver %r raised: %r",
                    receiver,
                    outcome,
                    exc_info=(type(outcome), outcome, outcome.__traceback__),
                )

    transaction.on_commit(send)

"""Grade changes in, passback rows out (courseapp.signals; the services never import this app)."""

from __future__ import annotations

import logging

from django.dispatch import receiver

from courseapp.signals import final_grade_changed

log = logging.getLogger(__name__)


@receiver(final_grade_changed, dispatch_uid="lti-passback")
def grade_changed(sender: object, *, user_id: int, exercise_id: int, reason: str = "", **_kwargs: object) -> None:
    from courseapp.lti.passback import passback_enqueue

    try:
        passback_enqueue(user_id=user_id, exercise_id=exercise_id, reason=reason)
    except Exception:  # noqa: BLE001 - a receiver must not raise into the grading path; the drain cannot see
        # a row that was never written, so say so loudly
        log.exception(
            "lti passback could not be queued",
            extra={"event": "lti_passback_enqueue_failed", "user_id": user_id, "exercise_id": exercise_id},
        )

"""Celery edge for grade passback: ids in, one call into courseapp.lti.passback. Both run on the
maintenance queue (the beat service's worker), never behind a grading rush."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(name="lti.passback_send", ignore_result=True, acks_late=True)
def passback_send(passback_id: int) -> None:
    from courseapp.lti import passback

    if passback.passback_send(passback_id) is False:
        # The row says when to try again; ask for it then (the periodic drain is the safety net).
        row = passback.Passback.objects.filter(pk=passback_id).values_list("next_attempt_at", flat=True).first()
        if row is not None:
            passback_send.apply_async(args=[passback_id], eta=row, queue=settings.MAINTENANCE_QUEUE)


@shared_task(name="lti.passback_drain", ignore_result=True, acks_late=False)
def passback_drain() -> dict:
    """Periodic (CELERY_BEAT_SCHEDULE): send every due passback, including those whose task was lost."""
    from courseapp.lti import passback

    return passback.passback_drain()

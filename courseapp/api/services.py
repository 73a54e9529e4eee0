"""Writes of the API app: tokens, and submitting through courseapp.services.submission_create (the
one path every submission takes, browser or API, so attempt, rate and policy rules are the same)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from courseapp.api.models import ApiToken, IdempotencyKey
from courseapp.models import Exercise, Submission
from courseapp.services import submission_create

TOKEN_PREFIX = "rgt_"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_token_create(*, user, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`: the row, and the token itself (shown once; only its digest is kept)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name.strip()[:100], prefix=raw[:12], digest=_digest(raw))
    return token, raw


def api_token_revoke(*, user, token_id: int) -> bool:
    """Revoke one of the user's own tokens (someone else's id changes nothing)."""
    return bool(
        ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    )


def api_token_user(raw: str):
    """The active user a token belongs to, or None. Marks the token used (at most once a minute)."""
    token = ApiToken.objects.select_related("user").filter(digest=_digest(raw.strip()), revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# ---- idempotent submit ----------------------------------------------------------------------


class IdempotencyConflict(Exception):
    """The key was used before with a different submission."""


@dataclass(frozen=True)
class Submitted:
    submission: Submission
    replayed: bool  # True when an earlier request with the same idempotency key made it


@transaction.atomic
def api_submission_create(*, user, exercise: Exercise, source: str, idempotency_key: str = "") -> Submitted:
    """submission_create, made idempotent: the same key from the same user returns the submission
    the first request made, and no second job is queued."""
    key = idempotency_key.strip()
    if not key:
        return Submitted(submission_create(user=user, exercise=exercise, source=source), replayed=False)
    if len(key) > 200:
        raise ValidationError("The Idempotency-Key header is longer than 200 characters.")
    # One submit per user at a time while keys are checked: two requests with one key cannot both
    # pass the lookup below (the unique constraint backs this up).
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    digest = _digest(f"{exercise.pk}\n{source}")
    earlier = IdempotencyKey.objects.select_related("submission").filter(user=user, key=key).first()
    if earlier is not None:
        if earlier.request_digest != digest:
            raise IdempotencyConflict("This Idempotency-Key was used for a different submission.")
        return Submitted(earlier.submission, replayed=True)
    submission = submission_create(user=user, exercise=exercise, source=source)
    IdempotencyKey.objects.create(user=user, key=key, request_digest=digest, submission=submission)
    return Submitted(submission, replayed=False)

"""One submission per submit form: the exercise page carries a fresh token; a form sent twice (a
double-click, a browser retry) finds the submission its first send made instead of making another.

The token -> submission id map lives in the cache (Redis in production, shared by every web
process) for SUBMIT_TOKEN_TTL_S. It is written inside submission_create's transaction, after the
student's enrolment row is locked, so a second send waits for the first and then finds it.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.cache import caches

FIELD = "submit_token"


def new_token() -> str:
    return secrets.token_urlsafe(16)


def _key(user_id: int, token: str) -> str:
    return "submit-token:%s:%s" % (user_id, hashlib.sha256(token.encode()).hexdigest()[:32])


def submission_for_token(user, token: str):
    """The submission this form already made, or None."""
    from courseapp.models import Submission

    if not token:
        return None
    pk = caches["default"].get(_key(user.pk, token))
    return Submission.objects.filter(pk=pk, user=user).first() if pk else None


def remember_token(user, token: str, submission) -> None:
    if token:
        caches["default"].set(
            _key(user.pk, token), submission.pk, timeout=getattr(settings, "SUBMIT_TOKEN_TTL_S", 86400)
        )

"""How the tool talks to platforms: every request has a timeout (pylti1p3 sets none, and a platform
that hangs must not hang a worker), and service access tokens are shared between sends."""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import requests
from django.conf import settings
from django.core.cache import caches
from pylti1p3.exception import LtiServiceException
from pylti1p3.registration import Registration
from pylti1p3.service_connector import REQUESTS_USER_AGENT, ServiceConnector


class TimeoutSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = REQUESTS_USER_AGENT

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", settings.LTI_HTTP_TIMEOUT_S)
        return super().request(*args, **kwargs)


class CachedTokenConnector(ServiceConnector):
    """pylti1p3's service connector, with access tokens shared through the Django cache: a regrade of
    a whole class asks the platform for one token, not one per student (platforms rate-limit that)."""

    def __init__(self, platform_id: int, registration: Registration) -> None:
        super().__init__(registration, TimeoutSession())
        self._cache_prefix = f"lti-token:{platform_id}:"

    def _cache_key(self, scopes: Sequence[str]) -> str:
        return self._cache_prefix + hashlib.sha256("|".join(sorted(scopes)).encode()).hexdigest()[:32]

    def get_access_token(self, scopes: Sequence[str]) -> str:
        cache = caches[settings.LTI_CACHE]
        key = self._cache_key(scopes)
        token = cache.get(key)
        if not token:
            token = super().get_access_token(scopes)
            cache.set(key, token, timeout=settings.LTI_TOKEN_CACHE_S)
        return str(token)

    def forget_token(self, scopes: Sequence[str]) -> None:
        """Drop a token the platform refused (401), so the next try asks for a new one."""
        caches[settings.LTI_CACHE].delete(self._cache_key(scopes))
        self._access_tokens.clear()

    def make_service_request(self, scopes: Sequence[str], url: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_service_request(scopes, url, *args, **kwargs)
        except LtiServiceException as exc:
            if exc.response.status_code == 401:
                self.forget_token(scopes)
            raise

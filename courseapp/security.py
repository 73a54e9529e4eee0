"""Web-security middleware: a Content-Security-Policy header and login throttling.

Login throttling counts failed logins per username and per client address in the cache (Redis
when REDIS_URL is set, so every web process shares the counts; local memory otherwise). After
LOGIN_MAX_FAILURES failures within LOGIN_FAILURE_WINDOW_S, further login POSTs for that username
or address are answered 429 without checking the password, until the window passes.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

log = logging.getLogger(__name__)


class ContentSecurityPolicyMiddleware:
    """Adds settings.CONTENT_SECURITY_POLICY to every response that has none."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the first X-Forwarded-For hop when
    LOGIN_THROTTLE_TRUST_FORWARDED_FOR is set (only behind a proxy that overwrites that header)."""
    if settings.LOGIN_THROTTLE_TRUST_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")


def _key(kind: str, value: str) -> str:
    return "login-fail:%s:%s" % (kind, hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32])


class LoginThrottleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path != reverse("login"):
            return self.get_response(request)
        cache = caches[settings.LOGIN_THROTTLE_CACHE]
        keys = [_key("ip", client_address(request))]
        username = request.POST.get("username", "")
        if username:
            keys.append(_key("user", username))
        counts = cache.get_many(keys)
        if any(n >= settings.LOGIN_MAX_FAILURES for n in counts.values()):
            log.warning("login throttled", extra={"event": "login_throttled", "client": client_address(request)})
            minutes = max(1, settings.LOGIN_FAILURE_WINDOW_S // 60)
            response = HttpResponse(
                f"Too many failed logins. Please wait {minutes} minutes and try again.",
                status=429, content_type="text/plain; charset=utf-8")
            response["Retry-After"] = str(settings.LOGIN_FAILURE_WINDOW_S)
            return response
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if response.status_code == 302 and user is not None and user.is_authenticated:
            cache.delete_many(keys[1:])  # a success clears the username's count (not the address's)
        elif response.status_code == 200:  # the form came back: wrong username or password
            for key in keys:
                try:
                    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_S)
                    cache.incr(key)
                except ValueError:  # expired in between
                    cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_S)
        return response

"""Web-security middleware: a Content-Security-Policy header and login throttling.

Login throttling (the student login and /admin/login/) counts failed logins in the cache (Redis when
REDIS_URL is set, so every web process shares the counts; local memory otherwise), per
(client address, username): after LOGIN_MAX_FAILURES failures, each further failure makes that pair
wait LOGIN_BACKOFF_BASE_S x 2^k seconds (k = failures past the limit, capped at LOGIN_BACKOFF_MAX_S)
before its next try is even checked (429 with Retry-After). A pair is never locked for good, and
failures from one address never lock a student out at another address. Password spraying from one
address (many usernames) is bounded by the same back-off on the address alone after
LOGIN_MAX_FAILURES_PER_IP failures. Counts are forgotten after LOGIN_FAILURE_WINDOW_S without a failure.

Behind a reverse proxy every request comes from the proxy's address: set TRUSTED_PROXY_COUNT to the
number of proxies in front of Django that append to X-Forwarded-For; the client is then the hop that
many from the right (the hops to its left are the client's own claims and are ignored).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

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


# The throttle's clock (tests move it instead of sleeping through a back-off).
_clock = time.time


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the X-Forwarded-For
    hop that many from the right (REMOTE_ADDR when the header has fewer hops than that)."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return remote


def _key(kind: str, *values: str) -> str:
    raw = "\0".join(v.strip().lower() for v in values)
    return "login-fail:%s:%s" % (kind, hashlib.sha256(raw.encode()).hexdigest()[:32])


def backoff_s(failures: int, free: int) -> float:
    """How long to wait after `failures` failures when the first `free` ones cost nothing."""
    if failures < free:
        return 0.0
    return float(min(settings.LOGIN_BACKOFF_BASE_S * 2 ** min(failures - free, 30), settings.LOGIN_BACKOFF_MAX_S))


class LoginThrottleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def _throttled_paths(self) -> set[str]:
        return {reverse("login"), reverse("admin:login")}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or request.path not in self._throttled_paths():
            return self.get_response(request)
        cache = caches[settings.LOGIN_THROTTLE_CACHE]
        address = client_address(request)
        username = request.POST.get("username", "")
        # (counter key, failures allowed before the back-off starts)
        counters = [
            (_key("pair", address, username), settings.LOGIN_MAX_FAILURES),
            (_key("ip", address), settings.LOGIN_MAX_FAILURES_PER_IP),
        ]
        now = _clock()
        until = max(
            [u for u in cache.get_many([k + ":until" for k, _ in counters]).values() if isinstance(u, (int, float))],
            default=0.0,
        )
        if until > now:
            wait = max(1, math.ceil(until - now))
            log.warning("login throttled", extra={"event": "login_throttled", "client": address})
            response = HttpResponse(
                f"Too many failed logins. Please wait {wait} seconds and try again.",
                status=429,
                content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(wait)
            return response
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if response.status_code == 302 and user is not None and user.is_authenticated:
            pair = counters[0][0]
            cache.delete_many([pair, pair + ":until"])  # a success clears this pair (not the address)
        elif response.status_code == 200:  # the form came back: wrong username or password
            window = settings.LOGIN_FAILURE_WINDOW_S
            for key, free in counters:
                try:
                    cache.add(key, 0, timeout=window)
                    failures = cache.incr(key)
                except ValueError:  # expired in between
                    cache.set(key, 1, timeout=window)
                    failures = 1
                cache.touch(key, window)
                backoff = backoff_s(failures, free)
                if backoff:
                    cache.set(key + ":until", now + backoff, timeout=math.ceil(backoff) + 1)
        return response

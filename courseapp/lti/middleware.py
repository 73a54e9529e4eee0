"""Cross-site use from an LMS, only for sessions an LTI launch started.

The site's default stays strict (frame-ancestors 'none', X-Frame-Options DENY, SameSite=Lax
cookies). A session that came through a launch remembers the origins of the platform that launched
it; its pages may then be framed by exactly those origins, and (over HTTPS) its session and CSRF
cookies are SameSite=None; Secure, so the browser sends them inside the LMS's iframe.

Listed before SessionMiddleware, so it sees the response after the session, CSRF, clickjacking and
CSP middlewares have set their cookies and headers, and adjusts those.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse

SESSION_KEY = "lti_frame_origins"
_FRAME_ANCESTORS = re.compile(r"frame-ancestors[^;]*")


def with_frame_ancestors(policy: str, origins: list[str]) -> str:
    directive = "frame-ancestors " + " ".join(["'self'", *origins])
    if _FRAME_ANCESTORS.search(policy):
        return _FRAME_ANCESTORS.sub(directive, policy, count=1)
    return f"{policy}; {directive}" if policy else directive


def with_form_action(policy: str, origins: list[str]) -> str:
    """The policy with form-action widened to `origins` (the deep-linking return URL's origin)."""
    directive = "form-action " + " ".join(["'self'", *origins])
    pattern = re.compile(r"form-action[^;]*")
    if pattern.search(policy):
        return pattern.sub(directive, policy, count=1)
    return f"{policy}; {directive}" if policy else directive


class LtiFramingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        origins = session.get(SESSION_KEY) if session is not None else None
        if not origins:
            return response
        origins = [str(o) for o in origins]
        if "X-Frame-Options" in response:
            del response["X-Frame-Options"]
        policy = response.get("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response["Content-Security-Policy"] = with_frame_ancestors(policy, origins)
        if request.is_secure():
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["samesite"] = "None"
                    response.cookies[name]["secure"] = True
        return response

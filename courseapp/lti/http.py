"""The HTTP session pylti1p3 talks to platforms with: every request has a timeout (the library sets
none, and a platform that hangs must not hang a worker)."""

from __future__ import annotations

from typing import Any

import requests
from django.conf import settings
from pylti1p3.service_connector import REQUESTS_USER_AGENT


class TimeoutSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.headers["User-Agent"] = REQUESTS_USER_AGENT

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", settings.LTI_HTTP_TIMEOUT_S)
        return super().request(*args, **kwargs)

"""`python -m grader submit --url URL --token TOKEN EXERCISE FILE` (contracts.md §2).

Submits FILE (a `.py` file or a `.ipynb` notebook) to a running service through its API
(/api/v1/), follows the grading status with back-off and prints the feedback. Standard library
only, so it runs in any notebook or CI job (`!python -m grader submit ...`).

EXERCISE is the exercise's slug, `COURSE/SLUG` when the slug is in several of your courses, or its
numeric id. Exit status: 0 when a grade came back (whatever the score), 1 when the service refused
the submission or could not grade it, 2 for a usage, network or authentication problem, 3 when no
grade came back in time.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

USER_AGENT = "grader-submit/1"
RETRYABLE = {429, 502, 503, 504}


class ClientError(Exception):
    """A problem to report to the user; `code` is the exit status."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Api:
    base: str  # the site root, e.g. https://grading.example.org
    token: str
    timeout_s: float = 30.0

    @classmethod
    def for_url(cls, url: str, token: str) -> Api:
        parsed = urllib.parse.urlsplit(url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ClientError(f"--url must be the service's http(s) address, not {url!r}")
        path = parsed.path.rstrip("/")
        for suffix in ("/api/v1", "/api"):
            path = path.removesuffix(suffix)
        return cls(base=urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, path, "", "")), token=token.strip())

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base + path

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = "",
        headers: dict[str, str] | None = None,
        retries: int = 4,
    ) -> tuple[int, Any]:
        """(status, decoded JSON) for a 2xx answer; ClientError for anything else. Connection errors
        and 429/5xx are retried with back-off (a submit carries an idempotency key, so a retry after
        a lost answer never makes a second submission)."""
        all_headers = {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            **(headers or {}),
        }
        if content_type:
            all_headers["Content-Type"] = content_type
        delay = 1.0
        for attempt in range(retries + 1):
            req = urllib.request.Request(self.url(path), data=body, method=method, headers=all_headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as response:
                    return response.status, _decode(response.read())
            except urllib.error.HTTPError as exc:
                payload = _decode(exc.read())
                if exc.code in RETRYABLE and attempt < retries:
                    time.sleep(_retry_after(exc, delay))
                    delay = min(delay * 2, 30.0)
                    continue
                raise ClientError(_http_message(exc.code, payload), 2 if exc.code in (401, 403) else 1) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt < retries:
                    time.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                reason = getattr(exc, "reason", exc)
                raise ClientError(f"cannot reach {self.base}: {reason}") from None
        raise ClientError("unreachable")  # pragma: no cover - the loop returns or raises


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, ValueError):
        return raw.decode("utf-8", "replace")[:500]


def _retry_after(exc: urllib.error.HTTPError, default: float) -> float:
    try:
        return min(float(exc.headers.get("Retry-After", default)), 60.0)
    except (TypeError, ValueError):
        return default


def _http_message(code: int, payload: Any) -> str:
    detail = payload.get("detail") if isinstance(payload, dict) else None
    if detail is None and isinstance(payload, dict):
        detail = "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in payload.items())
    if code == 401:
        return f"the service refused the token ({detail or 'unauthorised'}); create one on your account page"
    if code == 404:
        return f"not found: {detail or 'no such exercise or submission'}"
    return f"the service answered {code}: {detail or payload or 'no details'}"


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body holding one file."""
    boundary = "----grader-" + uuid.uuid4().hex
    safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{safe_name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def resolve_exercise(api: Api, exercise: str) -> dict[str, Any]:
    """The exercise (as /api/v1/exercises/ lists it) that EXERCISE names."""
    course, _, slug = exercise.rpartition("/")
    query = {"slug": slug} if not slug.isdigit() else {}
    if course:
        query["course"] = course
    _, exercises = api.request("GET", "/api/v1/exercises/?" + urllib.parse.urlencode(query))
    if slug.isdigit():
        exercises = [e for e in exercises if str(e.get("id")) == slug]
    if not exercises:
        where = f" in course {course!r}" if course else ""
        raise ClientError(f"no exercise {slug!r}{where} among your courses' exercises", 1)
    if len(exercises) > 1:
        courses = ", ".join(sorted(str(e["course"]) for e in exercises))
        raise ClientError(f"{slug!r} is in several of your courses ({courses}); name one as COURSE/{slug}", 1)
    found: dict[str, Any] = exercises[0]
    return found


def follow(
    api: Api,
    submission: dict[str, Any],
    *,
    timeout_s: float,
    err: TextIO,
    first_delay: float = 0.5,
    max_delay: float = 5.0,
) -> dict[str, Any]:
    """Poll the submission until it is finished, with back-off; its final state."""
    deadline = time.monotonic() + timeout_s
    delay = first_delay
    last_state = ""
    while not submission.get("finished"):
        state = str(submission.get("state", ""))
        line = state + (f": {submission['progress']}" if submission.get("progress") else "")
        if line != last_state:
            print(f"  {line}", file=err, flush=True)
            last_state = line
        if time.monotonic() + delay > deadline:
            where = api.url(f"/api/v1/submissions/{submission['id']}/")
            raise ClientError(f"no grade after {timeout_s:.0f} s (state: {state}); the submission is {where}", 3)
        time.sleep(delay)
        delay = min(delay * 1.6, max_delay)
        _, submission = api.request("GET", f"/api/v1/submissions/{submission['id']}/")
    return submission


def format_feedback(exercise: dict[str, Any], submission: dict[str, Any]) -> str:
    """The result as text for a terminal or a notebook cell."""
    result = submission.get("result") or {}
    score = f"{result.get('score', 0):g}/{result.get('max_score', 0):g}"
    lines = [f"{exercise['course']}/{exercise['slug']}: {score} ({result.get('status', '?')})"]
    if submission.get("override"):
        o = submission["override"]
        comment = f": {o['comment']}" if o.get("comment") else ""
        lines.append(f"Your instructor set the grade to {o['score']:g}{comment}")
    if result.get("output"):
        lines.append(str(result["output"]))
    tests = result.get("tests") or []
    failed = [t for t in tests if t.get("status") != "passed"]
    passed = [t for t in tests if t.get("status") == "passed"]
    if failed:
        lines.append("")
        lines.append("Failed checks:")
        for t in failed:
            hidden = "" if t.get("visibility") == "visible" else " [hidden]"
            lines.append(f"  FAIL {t.get('name', '')} ({t.get('score', 0):g}/{t.get('max_score', 0):g}){hidden}")
            for out_line in str(t.get("output") or "").splitlines():
                lines.append(f"       {out_line}")
            if t.get("misconceptions"):
                lines.append(f"       likely misconception: {', '.join(t['misconceptions'])}")
    if passed:
        lines.append("")
        lines.append(f"Passed checks ({len(passed)}):")
        lines.extend(f"  ok   {t.get('name', '')}" for t in passed)
    if result.get("misconceptions"):
        lines.append("")
        lines.append("Misconceptions named: " + ", ".join(result["misconceptions"]))
    return "\n".join(lines)


def submit(
    url: str,
    token: str,
    exercise: str,
    file: str,
    *,
    timeout_s: float = 900.0,
    as_json: bool = False,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """The whole `submit` command; returns its exit status."""
    try:
        path = Path(file)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ClientError(f"cannot read {file}: {exc.strerror or exc}") from None
        api = Api.for_url(url, token)
        target = resolve_exercise(api, exercise)
        body, content_type = multipart("file", path.name, data)
        key = uuid.uuid4().hex  # the same key on every retry: the service makes one submission
        print(f"Submitting {path.name} to {target['course']}/{target['slug']}…", file=err, flush=True)
        _, submission = api.request(
            "POST",
            f"/api/v1/exercises/{target['id']}/submissions/",
            body=body,
            content_type=content_type,
            headers={"Idempotency-Key": key},
        )
        submission = follow(api, submission, timeout_s=timeout_s, err=err)
        if submission.get("result") is None:
            reason = submission.get("error") or submission.get("state")
            print(f"The service could not grade the submission: {reason}", file=err)
            return 1
        if as_json:
            out.write(json.dumps(submission["result"], ensure_ascii=False) + "\n")
        else:
            out.write(format_feedback(target, submission) + "\n")
        out.flush()
        return 0
    except ClientError as exc:
        print(f"error: {exc}", file=err)
        return exc.code

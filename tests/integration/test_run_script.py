"""scripts/run.sh, the one command, on its embedded defaults (SQLite + filesystem broker, no
server): it prints the demo logins, serves the site, and its worker grades a submission."""

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import IDENTITY_NO_SHORTCUT, ROOT, engine_or_skip, free_port, port_open

pytestmark = pytest.mark.integration


def _wait_for(predicate, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout:.0f} s; run.sh output:\n{log.read_text(errors='replace')[-5000:]}")


def test_run_sh_serves_the_site_and_grades_on_embedded_defaults(tmp_path):
    engine_or_skip()
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEMO_PASSWORD")
    }
    env.update(VAR_DIR=str(tmp_path / "var"), PORT=str(port))
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_for(
            lambda: b"the site is at" in log.read_bytes() or proc.poll() is not None, 240, "run.sh did not come up", log
        )
        assert proc.poll() is None, log.read_text()
        text = log.read_text()
        assert "identity-block: new revision" in text
        password = re.search(r"student\s+login: student\s+password: (\S+)", text).group(1)
        assert (tmp_path / "var" / "db.sqlite3").is_file() and (tmp_path / "var" / "broker" / "queue").is_dir()

        base = f"http://127.0.0.1:{port}"
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def csrf() -> str:
            return next(c.value for c in jar if c.name == "csrftoken")

        def post(path, fields):
            body = urllib.parse.urlencode(fields | {"csrfmiddlewaretoken": csrf()}).encode()
            req = urllib.request.Request(base + path, data=body, headers={"Referer": base + path})
            return opener.open(req, timeout=20)

        _wait_for(lambda: _ok(opener, base + "/accounts/login/"), 60, "the web server did not answer", log)
        response = post("/accounts/login/", {"username": "student", "password": password})
        assert response.url == base + "/"
        opener.open(base + "/exercises/identity-block/", timeout=20)
        response = post("/exercises/identity-block/", {"source": IDENTITY_NO_SHORTCUT})
        submission_url = response.url
        assert re.search(r"/submissions/\d+/$", submission_url)

        def graded():
            data = json.load(opener.open(submission_url + "status.json", timeout=20))
            return data if data["finished"] else None

        status = _wait_for(graded, 120, "the submission was not graded", log)
        assert status["state"] == "graded" and status["score"] < status["max_score"]
        feedback = opener.open(base + status["feedback_url"], timeout=20).read().decode()
        assert "The shortcut (skip connection) is missing" in feedback
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert _wait_for(lambda: not port_open(port), 15, "the web server kept running after Ctrl-C", log)


def _ok(opener, url) -> bool:
    try:
        return opener.open(url, timeout=5).status == 200
    except OSError:
        return False

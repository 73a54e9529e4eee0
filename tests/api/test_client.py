"""`python -m grader submit` against a live server (pytest-django's live_server) with a real worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from courseapp.models import Submission
from tests.api.notebooks import student_notebook
from tests.conftest import IDENTITY_NO_SHORTCUT

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def grader_submit(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GRADER_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "grader", "submit", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_submit_prints_the_feedback_and_exits_0(celery_worker, identity_block, make_api_user, live_server, tmp_path):
    user, ada = make_api_user("ada", identity_block.course)
    wrong = tmp_path / "block.py"
    wrong.write_text(IDENTITY_NO_SHORTCUT)
    run = grader_submit("--url", live_server.url, "--token", ada.token, "identity-block", str(wrong))
    assert run.returncode == 0, run.stderr
    assert f"{identity_block.course.slug}/identity-block: " in run.stdout and "/10 (graded)" in run.stdout
    assert "Failed checks:" in run.stdout and "shortcut_missing" in run.stdout
    assert "queued" in run.stderr or "running" in run.stderr  # it followed the status

    notebook = tmp_path / "work.ipynb"
    notebook.write_bytes(student_notebook())
    run = grader_submit(
        "--url",
        live_server.url + "/api/v1/",
        "--token",
        ada.token,
        "--json",
        f"{identity_block.course.slug}/identity-block",
        str(notebook),
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["score"] == result["max_score"] == 10 and result["output"].startswith("Graded notebook cell 4")
    assert Submission.objects.filter(user=user).count() == 2  # one submission per command, retries included


def test_submit_reports_problems_with_a_clear_message(identity_block, make_api_user, live_server, tmp_path):
    _, ada = make_api_user("ada", identity_block.course)
    source = tmp_path / "block.py"
    source.write_text("class IdentityBlock: pass\n")
    bad_token = grader_submit("--url", live_server.url, "--token", "rgt_wrong", "identity-block", str(source))
    assert bad_token.returncode == 2 and "refused the token" in bad_token.stderr
    unknown = grader_submit("--url", live_server.url, "--token", ada.token, "no-such-exercise", str(source))
    assert unknown.returncode == 1 and "no exercise 'no-such-exercise'" in unknown.stderr
    missing = grader_submit("--url", live_server.url, "--token", ada.token, "identity-block", str(tmp_path / "x.py"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    notebook = tmp_path / "empty.ipynb"
    notebook.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}')
    refused = grader_submit("--url", live_server.url, "--token", ada.token, "identity-block", str(notebook))
    assert refused.returncode == 1 and "No code cell of the notebook defines IdentityBlock" in refused.stderr

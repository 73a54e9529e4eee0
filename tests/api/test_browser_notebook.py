"""In a real browser (Debian chromium): a student uploads a notebook on the exercise page and the
feedback names the cell that was graded."""

from __future__ import annotations

import re
import shutil

import pytest
from django.contrib.auth import get_user_model

from courseapp.models import Enrolment, Exercise
from courseapp.services import exercise_sync
from tests.api.notebooks import CLASS_NO_SHORTCUT, student_notebook
from tests.browser.test_student_loop import browser  # noqa: F401 - the chromium fixture
from tests.conftest import EXERCISES, IDENTITY_BLOCK

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _allow_async_unsafe(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")  # as tests/browser/conftest.py does


def test_a_student_uploads_a_notebook_and_sees_which_cell_was_graded(
    celery_worker,
    live_server,
    browser,  # noqa: F811 - the fixture imported above
    tmp_path,
    real_grader,
    settings,
):
    from playwright.sync_api import expect

    root = tmp_path / "exercises"
    root.mkdir()
    shutil.copy(EXERCISES / "misconceptions.toml", root)
    shutil.copytree(IDENTITY_BLOCK, root / "identity-block", ignore=shutil.ignore_patterns("__pycache__"))
    exercise_sync(root, grader=real_grader)
    exercise = Exercise.objects.get(slug="identity-block")
    user = get_user_model().objects.create_user("nora", password="pw-nora-12345")
    Enrolment.objects.create(user=user, course=exercise.course)
    notebook = tmp_path / "resnet-homework.ipynb"
    notebook.write_bytes(student_notebook(CLASS_NO_SHORTCUT))

    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(20_000)
    page.goto(live_server.url + "/accounts/login/")
    page.fill("#id_username", "nora")
    page.fill("#id_password", "pw-nora-12345")
    page.click("button[type=submit]")
    page.click("text=Implement the identity block")
    page.set_input_files("#id_upload", str(notebook))
    page.click("#upload-button")
    expect(page).to_have_url(re.compile(r"/submissions/\d+/$"))
    expect(page.locator("#job-state")).to_have_text("graded", timeout=180_000)
    feedback = page.locator("#feedback")
    expect(feedback.locator("#graded-cells")).to_contain_text("Graded notebook cell 4, In [3] (defines IdentityBlock)")
    expect(feedback.locator(".misconception").first).to_contain_text("The shortcut (skip connection) is missing")

    # a notebook without the class: a clear message on the page, nothing submitted
    empty = tmp_path / "empty.ipynb"
    empty.write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}')
    page.set_input_files("#id_upload", str(empty))
    page.click("#upload-button")
    expect(page.locator(".errorlist, .error").first).to_contain_text(
        "No code cell of the notebook defines IdentityBlock"
    )
    page.close()

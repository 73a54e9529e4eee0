"""The demo student does the whole loop in a real browser (Debian chromium, headless): log in,
type a buggy identity block, see the named feedback, type a correct one, see full marks."""

import os
import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from courseapp.services import exercise_sync
from tests.conftest import EXERCISES, IDENTITY_BLOCK, IDENTITY_CORRECT, IDENTITY_NO_SHORTCUT, skip_or_fail

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} is missing (scripts/test.sh installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    from django.db import connections

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # Playwright runs this code in its own greenlet, which Django sees as another context with
        # connections of its own: close them here, or the test database cannot be dropped.
        connections.close_all()


@pytest.fixture
def demo(tmp_path, real_grader, settings):
    root = tmp_path / "exercises"
    root.mkdir()
    shutil.copy(EXERCISES / "misconceptions.toml", root)
    shutil.copytree(IDENTITY_BLOCK, root / "identity-block", ignore=shutil.ignore_patterns("__pycache__"))
    exercise_sync(root, grader=real_grader)
    out = StringIO()
    call_command("seed_demo", stdout=out)
    logins = dict(re.findall(r"login: (\S+)\s+password: (\S+)", out.getvalue()))
    return logins


def _type_into_editor(page, source: str) -> None:
    """Replace the editor's text the way a person does: click, select all, delete, type."""
    page.click(".CodeMirror")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("# my attempt")
    page.keyboard.press("Enter")
    page.keyboard.insert_text(source)


def test_demo_student_gets_named_feedback_then_full_marks(celery_worker, live_server, demo, browser, tmp_path):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(20_000)
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", "student")
    page.fill("#id_password", demo["student"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Exercises")
    expect(page.locator("table.exercises")).to_contain_text("not attempted")

    page.click("text=Implement the identity block")
    expect(page.locator(".CodeMirror")).to_be_visible()
    expect(page.locator(".CodeMirror")).to_contain_text("class IdentityBlock")  # the starter code
    expect(page.locator(".CodeMirror .cm-keyword").first).to_be_visible()  # Python highlighting

    _type_into_editor(page, IDENTITY_NO_SHORTCUT)
    page.click("#submit-button")
    expect(page).to_have_url(re.compile(r"/submissions/\d+/$"))
    page.evaluate("window.__noReload = true")
    state = page.locator("#job-state")
    expect(state).to_have_text("graded", timeout=180_000)
    assert page.evaluate("window.__noReload") is True, "the status must update without reloading the page"
    feedback = page.locator("#feedback")
    expect(feedback).to_contain_text("shortcut")
    expect(feedback.locator(".misconception").first).to_contain_text("The shortcut (skip connection) is missing")
    expect(feedback.locator("h3.failed-title")).to_be_visible()
    expect(feedback.locator("#full-marks")).to_have_count(0)
    shot = Path(os.environ.get("COURSEAPP_SCREENSHOT", tmp_path / "feedback.png"))
    page.screenshot(path=str(shot), full_page=True)

    _type_into_editor(page, IDENTITY_CORRECT)
    page.click("#submit-button")
    expect(page.locator("#job-state")).to_have_text("graded", timeout=180_000)
    expect(page.locator("#full-marks")).to_be_visible()
    expect(page.locator("#score")).to_have_text("10 / 10")
    expect(page.locator("ol.submissions li")).to_have_count(2)
    expect(page.locator("ol.submissions li.current .badge")).to_have_text("graded")  # updated live too
    expect(page.locator("ol.submissions li.current .score")).to_have_text("10 / 10")

    page.goto(live_server.url + "/")
    expect(page.locator("table.exercises")).to_contain_text("10 / 10")
    page.close()

"""Fixtures for the LTI tests: the module's exercises, the running tool (live_server), a loopback
platform registered with it through `lti_add_platform`, and a 'browser' (a requests session with
cookies) that walks the real OIDC login -> platform -> launch flow over HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape

import pytest
import requests
from django.core.management import call_command

from courseapp.models import Course, Exercise
from courseapp.services import exercise_sync
from tests.conftest import StandInGrader, write_module_folder
from tests.lti.platform import LoopbackPlatform, PendingLaunch, login_params


@pytest.fixture(autouse=True)
def _isolated_paths(settings, tmp_path):
    settings.EXERCISE_CACHE_DIR = tmp_path / "exercise-cache"
    settings.VAR_DIR = tmp_path / "var"
    settings.PUBLIC_URL = ""


@pytest.fixture
def module_course(settings, exercises_root) -> Course:
    """The module's course (COURSE_SLUG) with two code exercises, as exercise_sync makes it."""
    write_module_folder(exercises_root, "mini-block", title="A mini block", order=1)
    write_module_folder(exercises_root, "mini-two", title="A second block", order=2)
    settings.EXERCISES_DIR = exercises_root
    exercise_sync(exercises_root, grader=StandInGrader())
    return Course.objects.get(slug=settings.COURSE_SLUG)


@pytest.fixture
def platform(live_server, module_course):
    """A loopback platform, registered with the running tool the way an administrator does it."""
    p = LoopbackPlatform().start()
    p.tool_launch_url = live_server.url + "/lti/launch/"
    p.tool_jwks_url = live_server.url + "/lti/jwks/"
    call_command(
        "lti_add_platform",
        "--issuer",
        p.issuer,
        "--client-id",
        p.client_id,
        "--deployment-id",
        p.deployment_id,
        "--auth-login-url",
        p.auth_login_url,
        "--auth-token-url",
        p.token_url,
        "--key-set-url",
        p.jwks_url,
    )
    yield p
    p.stop()


@dataclass
class LaunchTrip:
    response: requests.Response  # the tool's answer to the launch POST (redirects followed)
    form: dict[str, str]  # what the platform's page posted (id_token, state)
    action: str


FORM_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def parse_form(page: str, form_id: str | None = None) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the page's first post form (or of the form with that id)."""
    if form_id is not None:
        start = page.index(f'id="{form_id}"')
        page = page[page.rindex("<form", 0, start) :]
    action = FORM_ACTION.search(page)
    assert action, page[:2000]
    page = page[action.start() : page.index("</form>", action.start())]
    return unescape(action.group(1)), {k: unescape(v) for k, v in FORM_INPUT.findall(page)}


class Browser:
    """A person's browser: cookies per site, follows the platform's auto-posting form."""

    opened: list[requests.Session] = []  # closed after each test (a kept-alive connection would
    # keep a live-server thread, and its database connection, alive past the test database)

    def __init__(self, tool_url: str) -> None:
        self.session = requests.Session()
        self.tool_url = tool_url
        Browser.opened.append(self.session)

    def login_then_launch(
        self, platform: LoopbackPlatform, launch: PendingLaunch, *, spoil_state: bool = False
    ) -> LaunchTrip:
        hint = platform.prepare(launch)
        start = self.session.get(
            self.tool_url + "/lti/login/",
            allow_redirects=False,
            params=login_params(platform, hint, launch.claims["sub"]),
            timeout=30,
        )
        assert start.status_code == 302, start.text[:2000]
        assert start.headers["Location"].startswith(platform.auth_login_url)
        page = self.session.get(start.headers["Location"], timeout=30)
        assert page.status_code == 200, page.text
        action, form = parse_form(page.text)
        if spoil_state:
            form["state"] = "state-" + "0" * 36
        return LaunchTrip(response=self.post(action, form), form=form, action=action)

    def post(self, url: str, data: dict[str, str]) -> requests.Response:
        return self.session.post(url, data=data, timeout=30)

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.tool_url + path, timeout=30)


@pytest.fixture
def browser(live_server):
    yield Browser(live_server.url)
    while Browser.opened:
        Browser.opened.pop().close()


@pytest.fixture
def exercise_in_lti_course():
    def find(slug: str) -> Exercise:
        return Exercise.objects.select_related("course", "current_revision").get(
            slug=slug, course__lti_context__isnull=False
        )

    return find

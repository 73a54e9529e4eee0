"""Web security: CSRF on every POST, production cookie/HTTPS settings and `check --deploy`, login
throttling, request size limits, the CSP header, XSS payloads escaped on every page, and IDOR
(student B cannot reach A's submission, feedback or status by changing an id)."""

import json
import os
import re
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from courseapp import services
from courseapp.models import Enrolment, GradingJob, Result, Submission
from tests.conftest import ROOT

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "websecurity"}}
XSS = ['<script>alert("xss")</script>', "<img src=x onerror=alert(1)>", '"><svg onload=alert(2)>']
PAYLOAD = " ".join(XSS)
# LTI 1.3's login initiation and launch are the LMS's cross-site requests, CSRF-exempt by design:
# the OIDC state cookie, the single-use nonce and the platform's signed id_token protect them
# (tests/lti). Without a valid login or launch they refuse with 400.
CROSS_SITE_BY_DESIGN = {"/lti/login/", "/lti/launch/"}


def _patterns(resolver=None, prefix=""):
    """(route with <converters>, pattern) for every URL the project serves (admin left out)."""
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            if route.startswith("admin/"):
                continue
            yield from _patterns(p, route)
        elif isinstance(p, URLPattern):
            yield route, p


def _fill(route: str, ints: int, slug: str) -> str:
    route = re.sub(r"<int:\w+>", str(ints), route)
    route = re.sub(r"<(?:slug|str|path):\w+>|<\w+>", slug, route)
    return "/" + route.lstrip("^").rstrip("$")


# ---- CSRF ------------------------------------------------------------------------------------


def test_every_post_without_a_csrf_token_is_refused(world, enqueued):
    staff = get_user_model().objects.create_superuser("root", password="pw-root-12345")
    Enrolment.objects.create(user=staff, course=world.course, role=Enrolment.Role.INSTRUCTOR)
    sub = services.submission_create(user=world.alice, exercise=world.code, source="x + x")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    routes = list(_patterns())
    assert len(routes) >= 5
    for route, _ in routes:
        url = _fill(route, sub.pk, "mini-block")
        response = client.post(url, {"source": "x"})
        if url in CROSS_SITE_BY_DESIGN:
            assert response.status_code == 400, f"POST {url} without a launch answered {response.status_code}"
            continue
        assert response.status_code == 403, f"POST {url} without a CSRF token answered {response.status_code}"
    # the login and logout forms too
    anon = Client(enforce_csrf_checks=True)
    assert anon.post(reverse("login"), {"username": "alice", "password": "pw-alice-1"}).status_code == 403
    assert client.post(reverse("logout")).status_code == 403
    assert Submission.objects.count() == 1


def test_a_post_with_the_token_from_the_form_is_accepted(world, enqueued):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    url = reverse("exercise-detail", args=["mini-block"])
    html = client.get(url, follow=True).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert client.post(url, {"source": "x + x", "csrfmiddlewaretoken": token}).status_code == 302


# ---- production settings -------------------------------------------------------------------

PROD_ENV = {
    "DEBUG": "0",
    "HTTPS": "1",
    "SECRET_KEY": "k" * 20 + "-production-secret-9f3a7c1e5b2d8a4f6e0c-x" * 2,
    "ALLOWED_HOSTS": "grading.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://grading.example.org",
}


def _prod_env(tmp_path):
    # a production environment: none of the test run's own switches (Playwright tests set
    # DJANGO_ALLOW_ASYNC_UNSAFE in this process, which check --deploy rightly refuses)
    drop = ("DATABASE_URL", "REDIS_URL", "SECURE_COOKIES", "DJANGO_ALLOW_ASYNC_UNSAFE", "DEBUG")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, **PROD_ENV, "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "courseapp.settings"}


def test_manage_py_check_deploy_is_clean_in_production_mode(tmp_path):
    proc = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_prod_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues" in proc.stdout


def test_production_mode_sets_secure_cookies_https_and_hsts(tmp_path):
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({k: getattr(s, k) "
        "for k in ['DEBUG', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
        "'CSRF_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', "
        "'X_FRAME_OPTIONS', 'SECURE_CONTENT_TYPE_NOSNIFF']}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_prod_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    values = json.loads(proc.stdout.strip().splitlines()[-1])
    assert values == {
        "DEBUG": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "X_FRAME_OPTIONS": "DENY",
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
    }


# ---- login throttling ----------------------------------------------------------------------


@pytest.fixture
def throttle(settings):
    import uuid

    # a fresh local-memory cache per test (never clear a shared Redis)
    settings.CACHES = {"default": {**LOCMEM["default"], "LOCATION": uuid.uuid4().hex}}
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_MAX_FAILURES_PER_IP = 3
    settings.LOGIN_FAILURE_WINDOW_S = 600
    settings.LOGIN_BACKOFF_BASE_S = 600
    return settings


def test_login_is_throttled_per_address_and_username_after_repeated_failures(client, world, throttle):
    url = reverse("login")
    for _ in range(3):
        r = client.post(url, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.0.0.1")
        assert r.status_code == 200  # the form again, with an error
    r = client.post(url, {"username": "alice", "password": "pw-alice-1"}, REMOTE_ADDR="10.0.0.1")
    assert r.status_code == 429 and 500 < int(r["Retry-After"]) <= 600  # what is left of the back-off
    assert "_auth_user_id" not in client.session
    # the same student elsewhere is not locked out (tests/integrity/test_login_throttle.py has more)
    assert client.post(url, {"username": "alice", "password": "pw-alice-1"}, REMOTE_ADDR="10.0.0.9").status_code == 302


def test_login_is_throttled_per_address(client, world, throttle):
    url = reverse("login")
    for name in ("u1", "u2", "u3"):
        assert client.post(url, {"username": name, "password": "x"}, REMOTE_ADDR="10.1.1.1").status_code == 200
    assert client.post(url, {"username": "bob", "password": "pw-bob-1"}, REMOTE_ADDR="10.1.1.1").status_code == 429
    assert client.post(url, {"username": "bob", "password": "pw-bob-1"}, REMOTE_ADDR="10.1.1.2").status_code == 302


def test_a_successful_login_resets_the_username_count(client, world, throttle):
    url = reverse("login")
    for _ in range(2):
        client.post(url, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.2.0.1")
    assert client.post(url, {"username": "alice", "password": "pw-alice-1"}, REMOTE_ADDR="10.2.0.2").status_code == 302
    client.logout()
    for _ in range(2):
        assert client.post(url, {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.2.0.3").status_code == 200
    assert client.post(url, {"username": "alice", "password": "pw-alice-1"}, REMOTE_ADDR="10.2.0.4").status_code == 302


def test_the_cache_is_redis_when_redis_url_is_set(tmp_path):
    code = "import django; django.setup(); from django.conf import settings as s; print(s.CACHES['default']['BACKEND'])"
    env = {**_prod_env(tmp_path), "REDIS_URL": "redis://127.0.0.1:1/0"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    assert out.strip().endswith("RedisCache")


# ---- request size limits, CSP --------------------------------------------------------------


def test_oversized_request_bodies_are_refused(client, world, enqueued, settings):
    client.force_login(world.alice)
    url = reverse("exercise-detail", args=["mini-block"])
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert client.post(url, {"source": big}).status_code == 400
    many = {f"f{i}": "1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    assert client.post(url, many).status_code == 400
    assert not Submission.objects.exists()


def test_pages_carry_a_strict_content_security_policy(client, world):
    client.force_login(world.alice)
    for url in (reverse("login"), reverse("exercise-list"), reverse("exercise-detail", args=["mini-block"])):
        csp = client.get(url)["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["script-src"] == "'self'" and "unsafe-inline" not in directives["script-src"]
        assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'" and directives["form-action"] == "'self'"


def test_templates_have_no_inline_scripts_or_event_handlers():
    """The CSP forbids inline script: every template loads its scripts from static files."""
    for path in (ROOT / "courseapp" / "templates").rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\son[a-z]+\s*=", text), path


# ---- XSS -----------------------------------------------------------------------------------


@pytest.fixture
def hostile(world, enqueued):
    """Payloads everywhere a student or their program writes: username, code, free text, the
    program's output and stdout, check output, and a failed job's error."""
    User = get_user_model()
    mallory = User.objects.create_user(PAYLOAD[:150], password="pw-mallory-1", first_name=XSS[0][:150])
    Enrolment.objects.create(user=mallory, course=world.course, role=Enrolment.Role.STUDENT)
    code = services.submission_create(user=mallory, exercise=world.code, source="# x + x\n" + PAYLOAD)
    text = services.submission_create(user=mallory, exercise=world.text, source="The skip " + PAYLOAD)
    failed = services.submission_create(user=mallory, exercise=world.code, source=PAYLOAD)
    for sub in (code, text):
        job = sub.latest_job
        job.transition(GradingJob.Status.RUNNING)
        job.save()
        Result.objects.create(
            job=job,
            score=1,
            max_score=10,
            status="graded",
            outcome="wrong",
            output=PAYLOAD,
            stdout=PAYLOAD,
            tests=[
                {
                    "name": PAYLOAD,
                    "score": 0,
                    "max_score": 5,
                    "status": "failed",
                    "output": PAYLOAD,
                    "visibility": "visible",
                    "misconceptions": [],
                }
            ],
            misconceptions=[],
            execution={"wall_s": 0.1, "cpu_s": 0.1, "device": PAYLOAD, "peak_rss_mb": 1},
        )
        job.transition(GradingJob.Status.DONE)
        job.save()
    job = failed.latest_job
    job.transition(GradingJob.Status.RUNNING)
    job.transition(GradingJob.Status.FAILED, error=PAYLOAD)
    job.save()
    return mallory, [code, text, failed]


def _assert_escaped(html: str, where: str) -> None:
    for raw in XSS:
        assert raw not in html, f"unescaped payload {raw!r} in {where}"


def test_payloads_are_escaped_on_every_student_page(client, hostile):
    mallory, subs = hostile
    client.force_login(mallory)
    pages = [
        reverse("exercise-list"),
        reverse("exercise-detail", args=["mini-block"]),
        reverse("exercise-detail", args=["mini-text"]),
    ]
    for sub in subs:
        pages += [reverse("submission-detail", args=[sub.pk]), reverse("submission-feedback", args=[sub.pk])]
    seen_escaped = 0
    for url in pages:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        html = response.content.decode()
        _assert_escaped(html, url)
        seen_escaped += "&lt;script&gt;alert(" in html
    assert seen_escaped >= 6  # the payloads are shown, escaped (not silently dropped)
    status = client.get(reverse("submission-status", args=[subs[0].pk]))
    assert status["Content-Type"] == "application/json"


def test_payloads_are_escaped_on_every_page_staff_can_open(client, hostile, world):
    """Every URL (instructor pages included), opened by a staff instructor with the hostile
    student's ids and slugs: no payload comes back unescaped."""
    mallory, subs = hostile
    staff = get_user_model().objects.create_superuser("prof", password="pw-prof-12345")
    Enrolment.objects.create(user=staff, course=world.course, role=Enrolment.Role.INSTRUCTOR)
    client.force_login(staff)
    opened = 0
    ids = {s.pk for s in subs} | {s.latest_job.pk for s in subs} | {mallory.pk, world.course.pk, world.code.pk}
    for route, _ in _patterns():
        if "logout" in route:
            continue
        slugs = ["mini-block", "mini-text", world.course.slug]
        for i in sorted(ids) if "<int:" in route else [0]:
            for slug in slugs if re.search(r"<(slug|str|path):", route) else [""]:
                response = client.get(_fill(route, i, slug))
                if response.status_code == 200 and "html" in response.get("Content-Type", ""):
                    _assert_escaped(response.content.decode(), _fill(route, i, slug))
                    opened += 1
    assert opened >= 5


# ---- IDOR ----------------------------------------------------------------------------------


def test_student_b_cannot_reach_a_s_submission_by_changing_an_id(client, world, enqueued):
    secret = "# alice-secret-7f3c x + x"
    sub = services.submission_create(user=world.alice, exercise=world.code, source=secret)
    client.force_login(world.bob)
    for name in ("submission-detail", "submission-status", "submission-feedback"):
        assert client.get(reverse(name, args=[sub.pk])).status_code == 404, name
    # every URL with an id, filled with alice's ids: nothing of hers comes back
    for route, _ in _patterns():
        if "<int:" not in route:
            continue
        for i in (sub.pk, sub.latest_job.pk, world.alice.pk):
            for slug in ("mini-block", world.course.slug):
                response = client.get(_fill(route, i, slug))
                assert response.status_code in (302, 403, 404, 405), (route, response.status_code)
                assert b"alice-secret-7f3c" not in response.content
    # and bob's own pages never list it
    html = client.get(reverse("exercise-detail", args=["mini-block"]), follow=True).content.decode()
    assert "alice-secret-7f3c" not in html and f"#{sub.pk}" not in html


def test_an_id_in_a_form_cannot_submit_for_someone_else(client, world, enqueued):
    client.force_login(world.bob)
    client.post(
        reverse("exercise-detail", args=["mini-block"]),
        {"source": "x + x", "user": world.alice.pk, "user_id": world.alice.pk, "submission": 1},
    )
    assert list(Submission.objects.values_list("user__username", flat=True)) == ["bob"]

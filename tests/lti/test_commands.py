"""`manage.py lti_add_platform` per contracts.md section 4, and the admin's platform registration."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from courseapp.lti.models import Platform, ToolKey

pytestmark = pytest.mark.django_db

ISS = "https://canvas.instructure.com"
ARGS = [
    "--issuer",
    ISS,
    "--client-id",
    "10000000000001",
    "--auth-login-url",
    "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "--auth-token-url",
    "https://sso.canvaslms.com/login/oauth2/token",
    "--key-set-url",
    "https://sso.canvaslms.com/api/lti/security/jwks",
]


def run(*args: str) -> str:
    out = StringIO()
    call_command("lti_add_platform", *args, stdout=out)
    return out.getvalue()


def test_registers_then_updates_and_adds_deployment_ids(settings):
    settings.PUBLIC_URL = ""
    out = run(*ARGS, "--deployment-id", "1:abc")
    assert "Registered platform https://canvas.instructure.com (client id 10000000000001)" in out
    # Without a public URL the tool's URLs are printed as paths.
    assert "OIDC login URL: /lti/login/" in out and "Launch / redirect URL: /lti/launch/" in out
    assert "Public keys (JWKS) URL: /lti/jwks/" in out
    assert ToolKey.objects.count() == 1  # the JWKS has a key from the start

    out = run(
        *ARGS[:-2],
        "--key-set-url",
        "https://sso.canvaslms.com/api/lti/security/jwks2",
        "--deployment-id",
        "2:def",
        "--deployment-id",
        "1:abc",
        "--auth-audience",
        "https://aud.example",
    )
    assert "Updated platform" in out
    platform = Platform.objects.get()
    assert platform.deployment_ids == ["1:abc", "2:def"]
    assert platform.key_set_url.endswith("/jwks2") and platform.auth_audience == "https://aud.example"

    # Another client id of the same issuer is another registration.
    run(*ARGS[:3], "20000000000002", *ARGS[4:], "--deployment-id", "9")
    assert Platform.objects.count() == 2


def test_prints_full_urls_when_the_public_url_is_set(settings):
    settings.PUBLIC_URL = "https://grader.example.edu"
    out = run(*ARGS, "--deployment-id", "1")
    assert "OIDC login URL: https://grader.example.edu/lti/login/" in out
    assert "Launch / redirect URL: https://grader.example.edu/lti/launch/" in out
    assert "Public keys (JWKS) URL: https://grader.example.edu/lti/jwks/" in out


def test_refuses_bad_input():
    with pytest.raises(CommandError, match="--key-set-url"):
        run(*ARGS[:-1], "not a url", "--deployment-id", "1")
    with pytest.raises(CommandError):
        run(*ARGS)  # a deployment id is required
    assert not Platform.objects.exists()


def test_the_admin_registers_platforms_and_shows_the_tools_urls(client):
    admin = get_user_model().objects.create_superuser("root", "root@example.edu", "pw-root-12345")
    client.force_login(admin)
    page = client.get("/admin/lti/platform/add/")
    assert page.status_code == 200 and "/lti/jwks/" in page.content.decode()
    response = client.post(
        "/admin/lti/platform/add/",
        {
            "name": "Moodle",
            "issuer": "https://moodle.example.edu",
            "client_id": "abc123",
            "deployment_ids": '["1"]',
            "auth_login_url": "https://moodle.example.edu/mod/lti/auth.php",
            "auth_token_url": "https://moodle.example.edu/mod/lti/token.php",
            "key_set_url": "https://moodle.example.edu/mod/lti/certs.php",
            "auth_audience": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Platform.objects.get().deployment_ids == ["1"]
    # A deployment id list must be a list of strings (a bare string would match its substrings).
    bad = client.post(
        f"/admin/lti/platform/{Platform.objects.get().pk}/change/",
        {
            "name": "Moodle",
            "issuer": "https://moodle.example.edu",
            "client_id": "abc123",
            "deployment_ids": '"1"',
            "auth_login_url": "https://moodle.example.edu/mod/lti/auth.php",
            "auth_token_url": "https://moodle.example.edu/mod/lti/token.php",
            "key_set_url": "https://moodle.example.edu/mod/lti/certs.php",
            "auth_audience": "",
            "is_active": "on",
        },
    )
    assert bad.status_code == 200 and "a JSON list of deployment ids" in bad.content.decode()
    assert Platform.objects.get().deployment_ids == ["1"]
    # Key rotation from the admin.
    client.get("/lti/jwks/")
    client.post("/admin/lti/toolkey/", {"action": "rotate", "_selected_action": [ToolKey.objects.get().pk]})
    assert ToolKey.objects.count() == 2

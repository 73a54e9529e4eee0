"""The OpenAPI schema, the token page and `manage.py api_token_create` (no worker needed)."""

from __future__ import annotations

import io

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from courseapp.api.models import ApiToken
from courseapp.api.services import api_token_create, api_token_user

pytestmark = pytest.mark.django_db


def test_the_schema_generates_without_warnings_and_lists_the_endpoints(tmp_path, client):
    out = tmp_path / "schema.yaml"
    # --fail-on-warn: any warning drf-spectacular raises (an untyped field, a view it cannot read) fails
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    paths = set(schema["paths"])
    assert {
        "/api/v1/courses/",
        "/api/v1/exercises/",
        "/api/v1/exercises/{exercise_id}/submissions/",
        "/api/v1/submissions/{submission_id}/",
        "/api/v1/submissions/{submission_id}/result/",
        "/api/v1/courses/{course_slug}/submissions/",
        "/api/v1/courses/{course_slug}/grades/",
        "/api/v1/courses/{course_slug}/exercises/{exercise_slug}/regrades/",
    } <= paths
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
    submit = schema["paths"]["/api/v1/exercises/{exercise_id}/submissions/"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in submit["parameters"]]
    assert {"application/json", "multipart/form-data"} <= set(submit["requestBody"]["content"])
    # served at a stable URL, and the docs page loads
    served = client.get(reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert served.status_code == 200 and "/api/v1/courses/" in served.content.decode()
    docs = client.get(reverse("api-docs"))
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_the_command_prints_a_token_that_works():
    user = get_user_model().objects.create_user("ci-bot")
    out = io.StringIO()
    call_command("api_token_create", "ci-bot", stdout=out)
    raw = out.getvalue().strip()
    assert raw.startswith("rgt_") and len(raw) > 40 and api_token_user(raw) == user
    assert ApiToken.objects.get(user=user).name == "command line"
    with pytest.raises(CommandError, match="no user named"):
        call_command("api_token_create", "nobody")


def test_tokens_page_creates_shows_once_and_revokes(client):
    user = get_user_model().objects.create_user("ada", password="pw-ada-12345")
    other = get_user_model().objects.create_user("bea", password="pw-bea-12345")
    client.force_login(user)
    page = client.get(reverse("exercise-list"))
    assert reverse("api-tokens") in page.content.decode()  # linked from the navigation
    created = client.post(reverse("api-tokens"), {"name": "laptop"})
    assert created.status_code == 200
    raw = created.context["new_token"]
    assert raw in created.content.decode() and api_token_user(raw) == user
    listed = client.get(reverse("api-tokens")).content.decode()
    assert raw not in listed and "laptop" in listed  # shown once only
    token = ApiToken.objects.get(user=user)
    client.post(reverse("api-token-revoke", args=[token.pk]))
    assert api_token_user(raw) is None
    # someone else's token cannot be revoked from my page
    _, theirs = api_token_create(user=other)
    client.post(reverse("api-token-revoke", args=[ApiToken.objects.get(user=other).pk]))
    assert api_token_user(theirs) == other
    client.logout()
    assert client.get(reverse("api-tokens")).status_code == 302

"""Fixtures for the API tests: the real identity-block exercise (synced with the real grader),
users with API tokens, and a client that sends `Authorization: Bearer <token>`."""

from __future__ import annotations

import shutil

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from courseapp.api.services import api_token_create
from courseapp.models import Enrolment, Exercise
from courseapp.services import exercise_sync
from tests.conftest import EXERCISES, IDENTITY_BLOCK


@pytest.fixture
def identity_block(tmp_path, real_grader, settings):
    root = tmp_path / "exercises"
    root.mkdir()
    shutil.copy(EXERCISES / "misconceptions.toml", root)
    shutil.copytree(IDENTITY_BLOCK, root / "identity-block", ignore=shutil.ignore_patterns("__pycache__"))
    settings.EXERCISES_DIR = root
    exercise_sync(root, grader=real_grader)
    return Exercise.objects.select_related("course", "current_revision").get(slug="identity-block")


class TokenClient(Client):
    """A Django test client that authenticates every request with an API token."""

    def __init__(self, token: str):
        super().__init__(HTTP_AUTHORIZATION=f"Bearer {token}")
        self.token = token


@pytest.fixture
def make_api_user(db):
    def make(username: str, course=None, role: str = Enrolment.Role.STUDENT):
        user = get_user_model().objects.create_user(username, password=f"pw-{username}-12345")
        if course is not None:
            Enrolment.objects.create(user=user, course=course, role=role)
        _, raw = api_token_create(user=user, name="tests")
        return user, TokenClient(raw)

    return make

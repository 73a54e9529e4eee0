"""Fixtures for the integrity tests (issue 12): the Django world of tests/courseapp, and a quiz
world graded by the real quiz grading code (no sandbox needed: a quiz is data, never code)."""

from __future__ import annotations

import shutil

import pytest
from django.contrib.auth import get_user_model

from tests.conftest import EXERCISES
from tests.courseapp.conftest import _isolated_paths, enqueued, world  # noqa: F401 - fixtures reused here


class QuizGrader:
    """Grades quizzes exactly as the worker's Grader does (grader.engine.grade_quiz_file)."""

    def grade(self, spec, data: bytes, progress=None, **options):
        from grader.engine import grade_quiz_file

        return grade_quiz_file(spec, data)

    def close(self) -> None:
        pass


@pytest.fixture
def quiz_grader() -> QuizGrader:
    return QuizGrader()


@pytest.fixture
def quiz_world(db, settings, exercises_root, quiz_grader):
    from courseapp import services
    from courseapp.models import Enrolment, Exercise

    shutil.copytree(EXERCISES / "resnet-quiz", exercises_root / "resnet-quiz")
    settings.EXERCISES_DIR = exercises_root
    services.exercise_sync(exercises_root, grader=quiz_grader)
    exercise = Exercise.objects.get(slug="resnet-quiz")
    User = get_user_model()
    users = [User.objects.create_user(name, password="pw-quiz-123") for name in ("quinn", "rory")]
    for user in users:
        Enrolment.objects.create(user=user, course=exercise.course)
    return exercise, users

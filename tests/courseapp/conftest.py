from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model

from courseapp.models import Course, Enrolment, Exercise
from courseapp.services import exercise_sync
from tests.conftest import StandInGrader, capture_grading_sends, write_freetext_folder, write_module_folder


@pytest.fixture(autouse=True)
def _isolated_paths(settings, tmp_path):
    settings.EXERCISE_CACHE_DIR = tmp_path / "exercise-cache"
    settings.VAR_DIR = tmp_path / "var"


@dataclass
class World:
    course: Course
    code: Exercise
    text: Exercise
    alice: object
    bob: object
    outsider: object
    root: object


@pytest.fixture
def world(db, settings, exercises_root) -> World:
    """A course with a code and a free-text exercise (synced with the stand-in grader), two
    enrolled students and one user who is not enrolled."""
    write_module_folder(exercises_root)
    write_freetext_folder(exercises_root)
    settings.EXERCISES_DIR = exercises_root
    exercise_sync(exercises_root, grader=StandInGrader())
    course = Course.objects.get(slug=settings.COURSE_SLUG)
    User = get_user_model()
    alice = User.objects.create_user("alice", password="pw-alice-1")
    bob = User.objects.create_user("bob", password="pw-bob-1")
    outsider = User.objects.create_user("outsider", password="pw-out-1")
    Enrolment.objects.create(user=alice, course=course, role=Enrolment.Role.STUDENT)
    Enrolment.objects.create(user=bob, course=course, role=Enrolment.Role.STUDENT)
    return World(
        course=course,
        code=Exercise.objects.get(slug="mini-block"),
        text=Exercise.objects.get(slug="mini-text"),
        alice=alice,
        bob=bob,
        outsider=outsider,
        root=exercises_root,
    )


@pytest.fixture
def enqueued(monkeypatch):
    """Capture the grading tasks that would be sent to Celery instead of sending them."""
    sent: list[dict] = []
    from courseapp.services.jobs import GRADE_TASK
    from courseapp.tasks import grade_submission

    assert grade_submission.name == GRADE_TASK  # the name sent is the name the worker registered

    def record(args, options):
        sent.append(
            {
                "args": args,
                "queue": options.get("queue"),
                "countdown": options.get("countdown"),
                "limits": (options.get("soft_time_limit"), options.get("time_limit")),
            }
        )

    capture_grading_sends(monkeypatch, record)
    return sent

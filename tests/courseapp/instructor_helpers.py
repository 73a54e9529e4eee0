"""Helpers for the instructor tests: an instructor, a second course, graded submissions recorded directly."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from courseapp.models import Course, Enrolment, Exercise, ExerciseRevision
from courseapp.services.seeding import failed_check, passed_check, record_graded

OK_SRC = "import torch\n\n\nclass Mini(torch.nn.Module):\n    def forward(self, x):\n        return x + x\n"
BAD_SRC = "import torch\n\n\nclass Mini(torch.nn.Module):\n    def forward(self, x):\n        return x\n"


def checks(ok: bool) -> list[dict]:
    return [
        passed_check("output keeps the input's shape", 2, "visible"),
        passed_check("the shortcut adds the input", 8)
        if ok
        else failed_check("the shortcut adds the input", 8, ["shortcut_missing"], "SECRET-DIAGNOSTIC: off by 1.7"),
    ]


def graded(user, exercise: Exercise, ok: bool = True, at=None, source: str | None = None):
    return record_graded(
        user=user,
        revision=exercise.current_revision,
        source=source or (OK_SRC if ok else BAD_SRC),
        tests=checks(ok),
        at=at,
    )


def make_instructor(course: Course, username: str = "prof"):
    user = get_user_model().objects.create_user(username, password="pw-prof-1")
    Enrolment.objects.create(user=user, course=course, role=Enrolment.Role.INSTRUCTOR)
    return user


def other_course():
    """A second course with its own exercise, instructor, student and one graded submission."""
    course = Course.objects.create(slug="other", title="Other course")
    ex = Exercise.objects.create(course=course, slug="other-ex", title="Other exercise", kind="module")
    rev = ExerciseRevision.objects.create(exercise=ex, content_hash="f" * 64, max_score=10, prompt="p", starter="")
    ex.current_revision = rev
    ex.save()
    prof = make_instructor(course, "otherprof")
    stu = get_user_model().objects.create_user("otherstudent", password="pw-os-1")
    Enrolment.objects.create(user=stu, course=course)
    sub = record_graded(user=stu, revision=rev, source="x = 1\n", tests=checks(True))
    return course, ex, prof, stu, sub

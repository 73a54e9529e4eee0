import re
from io import StringIO

from django.contrib.auth import authenticate
from django.core.management import call_command

from courseapp.checks import exercises_are_valid
from courseapp.models import Enrolment


def _seed(*args) -> dict[str, str]:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return dict(re.findall(r"login: (\S+)\s+password: (\S+)", out.getvalue()))


def test_seed_demo_prints_working_logins_and_is_idempotent(db):
    first = _seed()
    assert set(first) == {"instructor", "student"}
    for username, password in first.items():
        assert authenticate(username=username, password=password) is not None
    assert _seed() == first
    assert Enrolment.objects.count() == 2
    roles = dict(Enrolment.objects.values_list("user__username", "role"))
    assert roles == {"instructor": "instructor", "student": "student"}
    reset = _seed("--reset-passwords")
    assert reset["student"] != first["student"]
    assert authenticate(username="student", password=reset["student"]) is not None


def test_seed_demo_uses_demo_password_when_set(db, monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "fixed-Pa55word")
    assert _seed() == {"instructor": "fixed-Pa55word", "student": "fixed-Pa55word"}


def test_system_check_reports_a_broken_folder(settings, exercises_root):
    (exercises_root / "broken").mkdir()
    settings.EXERCISES_DIR = exercises_root
    messages = exercises_are_valid()
    assert [m.id for m in messages] == ["courseapp.W003"]
    assert "broken/exercise.toml: is missing" in messages[0].msg


def test_system_check_requires_nested_time_limits(settings, exercises_root):
    settings.EXERCISES_DIR = exercises_root
    settings.GRADING_HARD_MARGIN_S = 0
    assert [m.id for m in exercises_are_valid()] == ["courseapp.E001"]

"""The smaller holes of issue 12, one test (or two) each."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import textwrap

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from courseapp import services
from courseapp.models import Enrolment, ExercisePolicy, GradingJob, Regrade, Result, Submission
from courseapp import selectors_gradebook as gradebook
from grader.results import CheckResult, Execution, GradeResult, Outcome
from tests.conftest import ROOT, StandInGrader

CODE = "return x + x"


def _instructor(world):
    teacher = get_user_model().objects.create_user("teacher", password="pw-teach-1")
    Enrolment.objects.create(user=teacher, course=world.course, role=Enrolment.Role.INSTRUCTOR)
    return teacher


# ---- failed jobs (the grader's fault) do not use up attempts -------------------------------------


def test_a_failed_job_does_not_use_up_an_attempt(client, world, enqueued):
    ExercisePolicy.objects.create(exercise=world.code, max_attempts=1)
    first = services.submission_create(user=world.alice, exercise=world.code, source=CODE)
    services.grading_job_fail(first.latest_job.pk, "the worker's disk is full", retry=False)
    assert GradingJob.objects.get(pk=first.latest_job.pk).status == GradingJob.Status.FAILED
    second = services.submission_create(user=world.alice, exercise=world.code, source=CODE)  # not refused
    services.grading_job_run(second.latest_job.pk, grader=StandInGrader())
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):  # a graded attempt does count
        services.submission_create(user=world.alice, exercise=world.code, source=CODE)


# ---- internal errors are not shown to students -------------------------------------------------


def test_internal_errors_with_host_paths_are_for_staff_only(client, world, enqueued, settings):
    settings.GRADING_MAX_ATTEMPTS = 1
    sub = services.submission_create(user=world.alice, exercise=world.code, source=CODE)
    boom = RuntimeError("/srv/courseapp/var/exercise-cache/3f2a/checks.py: Permission denied")
    services.grading_job_run(sub.latest_job.pk, grader=StandInGrader(fail_with=boom))
    assert GradingJob.objects.get(pk=sub.latest_job.pk).status == GradingJob.Status.FAILED
    client.force_login(world.alice)
    for url in (
        reverse("submission-feedback", args=[sub.pk]),
        reverse("submission-detail", args=[sub.pk]),
        reverse("submission-status", args=[sub.pk]),
    ):
        body = client.get(url).content.decode()
        assert "/srv/courseapp" not in body and "RuntimeError" not in body and "Permission denied" not in body
    assert "could not be graded" in client.get(reverse("submission-feedback", args=[sub.pk])).content.decode()
    client.force_login(_instructor(world))
    staff = client.get(reverse("instructor-submission", args=[world.course.slug, sub.pk])).content.decode()
    assert "/srv/courseapp/var/exercise-cache/3f2a/checks.py" in staff


def test_the_api_shows_students_no_internal_errors_either(world, enqueued, settings):
    from courseapp.api.selectors import submission_json

    settings.GRADING_MAX_ATTEMPTS = 1
    sub = services.submission_create(user=world.alice, exercise=world.code, source=CODE)
    boom = RuntimeError("/srv/courseapp/var/exercise-cache/3f2a/checks.py: Permission denied")
    services.grading_job_run(sub.latest_job.pk, grader=StandInGrader(fail_with=boom))
    student = str(submission_json(Submission.objects.get(pk=sub.pk), as_staff=False))
    assert "/srv/courseapp" not in student and "could not be graded" in student
    assert "/srv/courseapp" in str(submission_json(Submission.objects.get(pk=sub.pk), as_staff=True))


def test_an_error_result_shows_students_a_generic_message(client, world, enqueued):
    class ErrorGrader(StandInGrader):
        def grade(self, spec, data, progress=None, **options):
            from grader.results import zero_result

            return zero_result(
                10.0,
                Outcome.ERROR,
                "This quiz could not be graded: /app/exercises/q/questions.toml is not valid TOML",
                status="error",
            )

    sub = services.submission_create(user=world.alice, exercise=world.code, source=CODE)
    services.grading_job_run(sub.latest_job.pk, grader=ErrorGrader())
    client.force_login(world.alice)
    body = client.get(reverse("submission-feedback", args=[sub.pk])).content.decode()
    assert "/app/exercises" not in body and "could not be graded" in body
    from courseapp.api.selectors import submission_json

    assert "/app/exercises" not in str(submission_json(Submission.objects.get(pk=sub.pk), as_staff=False))


# ---- check output capped, NUL bytes stripped before the insert ---------------------------------


class NulGrader(StandInGrader):
    def grade(self, spec, data, progress=None, **options):
        huge = "A" * 3_000_000
        return GradeResult(
            score=1.0,
            max_score=10.0,
            status="graded",
            output="bad\x00output " + huge,
            outcome=Outcome.WRONG,
            tests=[
                CheckResult(
                    name="n\x00ame",
                    score=1,
                    max_score=10,
                    status="failed",
                    output="diff\x00" + huge + "\ud800",
                    visibility="visible",
                )
            ]
            * 3,
            stdout="printed\x00" + huge,
            execution=Execution(wall_s=0.1, cpu_s=0.1),
            extra={"curves\x00": {"plain": [1.0, 0.5]}, "note": "x\x00y"},
        )


def test_sandbox_output_with_nul_bytes_and_no_length_cap_is_stored_safely(world, enqueued):
    sub = services.submission_create(user=world.alice, exercise=world.code, source=CODE)
    services.grading_job_run(sub.latest_job.pk, grader=NulGrader())
    result = Result.objects.get(job__submission=sub)
    stored = [
        result.output,
        result.stdout,
        *[t["output"] for t in result.tests],
        *[t["name"] for t in result.tests],
        *result.extra,
        result.extra["note"],
    ]
    assert all("\x00" not in s for s in stored)
    assert len(result.output) <= 70_000 and len(result.stdout) <= 70_000
    assert all(len(t["output"]) <= 20_000 for t in result.tests)
    assert result.output.startswith("badoutput AAA") and "truncated" in result.output


# ---- CSV exports: no formulas ---------------------------------------------------------------------


@pytest.mark.parametrize("evil", ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rx"])
def test_csv_cells_that_would_be_formulas_are_neutralised(world, enqueued, evil):
    mallory = get_user_model().objects.create_user(
        "mallory", password="pw-mal-1", first_name=evil, last_name=evil, email=evil
    )
    Enrolment.objects.create(user=mallory, course=world.course)
    sub = services.submission_create(user=mallory, exercise=world.code, source=CODE)
    services.grading_job_run(sub.latest_job.pk, grader=StandInGrader())
    for text in (gradebook.gradebook_csv(world.course), gradebook.submissions_csv(world.course)):
        cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
        assert cells and not any(c[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(c) for c in cells), text
    rows = list(csv.reader(io.StringIO(gradebook.gradebook_csv(world.course))))
    assert any(c == "'" + f"{evil}, {evil}" for row in rows for c in row)


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# ---- instructor forms: bad values are form errors, not 500s -----------------------------------


def test_a_negative_rate_limit_is_a_form_error(client, world):
    client.force_login(_instructor(world))
    url = reverse("instructor-exercise", args=[world.course.slug, world.code.slug])
    for field, value in (
        ("min_seconds_between", "-5"),
        ("max_attempts", "-1"),
        ("max_attempts", "0"),
        ("late_credit", "nan"),
        ("reveal_hidden", "sometimes"),
        ("min_seconds_between", "abc"),
    ):
        response = client.post(url, {field: value})
        assert response.status_code == 400, (field, value)
        assert 'class="error"' in response.content.decode()
    assert not ExercisePolicy.objects.filter(exercise=world.code).exists()


def test_an_unknown_regrade_scope_is_a_form_error(client, world):
    client.force_login(_instructor(world))
    url = reverse("instructor-regrade-start", args=[world.course.slug, world.code.slug])
    response = client.post(url, {"scope": "everything-ever"})
    assert response.status_code == 400 and "scope" in response.content.decode().lower()
    assert not Regrade.objects.exists()


# ---- a double-click submits once -------------------------------------------------------------


def test_the_same_form_sent_twice_makes_one_submission(client, world, enqueued):
    client.force_login(world.alice)
    url = reverse("exercise-detail", args=[world.code.slug])
    page = client.get(url, follow=True).content.decode()  # the course's own page
    assert 'name="submit_token"' in page
    import re

    token = re.search(r'name="submit_token" value="([^"]+)"', page).group(1)
    first = client.post(url, {"source": CODE, "submit_token": token})
    second = client.post(url, {"source": CODE, "submit_token": token})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Submission.objects.filter(user=world.alice).count() == 1
    # a new page (a new token) is a new submission
    token2 = re.search(r'name="submit_token" value="([^"]+)"', client.get(url, follow=True).content.decode()).group(1)
    assert token2 != token
    client.post(url, {"source": CODE, "submit_token": token2})
    assert Submission.objects.filter(user=world.alice).count() == 2


def test_the_submit_button_disables_itself_on_submit():
    js = (ROOT / "courseapp" / "static" / "courseapp" / "exercise.js").read_text()
    assert "submit-button" in js and ".disabled = true" in js


# ---- SQLite: two simultaneous submits do not fail with "database is locked" -----------------------

SQLITE_SCRIPT = textwrap.dedent("""
    import os, threading, django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from django.db import connection, connections
    from courseapp.models import Course, Enrolment, Exercise, ExerciseRevision
    from courseapp import services
    course = Course.objects.create(slug="c", title="c")
    ex = Exercise.objects.create(course=course, slug="e", title="e", kind="module")
    ex.current_revision = ExerciseRevision.objects.create(exercise=ex, content_hash="h", max_score=10, prompt="p")
    ex.save()
    users = []
    for i in range(2):
        u = get_user_model().objects.create_user(f"u{i}")
        Enrolment.objects.create(user=u, course=course)
        users.append(u)
    errors = []
    def submit(user, barrier):
        try:
            barrier.wait()
            services.submission_create(user=user, exercise=ex, source="x = 1")
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connections.close_all()
    for _ in range(8):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=submit, args=(u, barrier)) for u in users]
        [t.start() for t in threads]
        [t.join() for t in threads]
    print("ERRORS", errors)
    from courseapp.models import Submission
    print("SUBMISSIONS", Submission.objects.count())
""")


def test_two_simultaneous_submits_on_sqlite_both_succeed(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX")}
    env.update(
        VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE=os.environ.get("SQLITE_TEST_SETTINGS", "courseapp.settings"),
        SECRET_KEY="sqlite-test",
    )
    proc = subprocess.run(
        [sys.executable, "-c", SQLITE_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ERRORS []" in proc.stdout, proc.stdout[-3000:]
    assert "SUBMISSIONS 16" in proc.stdout

"""#13 item 2, the service side: time limits derived at sync from the reference's measured cost, stored
on the revision, used for the Celery task limits and passed to the grader, shown to the instructor,
and stated to the student whose submission exceeds them. Item 3: the worker process runs niced."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from courseapp.models import Enrolment, Exercise, ExerciseRevision
from courseapp.services import exercise_sync, grading_job_run, submission_create
from courseapp.services.jobs import job_time_limits
from grader.exercise import load_exercise
from grader.sandbox.limits import WALL_FLOOR_S, JobLimits
from tests.conftest import IDENTITY_BLOCK, ROOT, StandInGrader, write_module_folder
from tests.courseapp.instructor_helpers import make_instructor

pytestmark = pytest.mark.django_db

# StandInGrader's reference costs 0.5 s wall, 0.4 s CPU, no step measured: 10 x with the floors
# (wall 5, CPU 3, step 1), the TOML's defaults (20 s wall, 10 s CPU) as ceilings.
DERIVED = {"wall_s": 5.0, "cpu_s": 4.0, "step_cpu_s": 1.0}


def test_sync_stores_limits_derived_from_the_references_cost_below_the_toml(exercises_root):
    folder = write_module_folder(exercises_root)
    exercise_sync(exercises_root, grader=StandInGrader())
    rev = Exercise.objects.get(slug="mini-block").current_revision
    toml = load_exercise(folder).limits
    assert {k: rev.limits[k] for k in DERIVED} == DERIVED
    assert rev.limits["memory_mb"] == toml.memory_mb
    assert rev.limits["toml"] == JobLimits.of(toml).to_json()
    assert rev.wall_s == DERIVED["wall_s"] < toml.wall_s  # the task's time limits follow the derived wall
    assert rev.job_limits() == JobLimits(wall_s=5.0, cpu_s=4.0, memory_mb=toml.memory_mb, step_cpu_s=1.0)


def test_the_toml_value_stays_the_upper_bound(exercises_root):
    folder = write_module_folder(exercises_root)
    toml = (folder / "exercise.toml").read_text()
    (folder / "exercise.toml").write_text(
        toml.replace("[interface]", "[limits]\nwall_s = 2\ncpu_s = 1.5\n\n[interface]")
    )
    exercise_sync(exercises_root, grader=StandInGrader())
    rev = Exercise.objects.get().current_revision
    assert (rev.limits["wall_s"], rev.limits["cpu_s"], rev.limits["step_cpu_s"]) == (2.0, 1.5, 1.0)
    assert rev.wall_s == 2.0


def test_resync_measures_nothing_and_backfills_revisions_synced_without_limits(exercises_root, settings):
    write_module_folder(exercises_root)
    settings.GRADING_LIMITS_FROM_REFERENCE = False
    exercise_sync(exercises_root, grader=StandInGrader())
    rev = Exercise.objects.get().current_revision
    assert rev.limits == {} and rev.job_limits() is None and rev.wall_s == 20  # the TOML's

    settings.GRADING_LIMITS_FROM_REFERENCE = True
    grader = StandInGrader()
    exercise_sync(exercises_root, grader=grader)
    rev.refresh_from_db()
    assert {k: rev.limits[k] for k in DERIVED} == DERIVED and rev.wall_s == 5.0
    verify_and_measure = len(grader.calls)
    assert verify_and_measure > 1

    grader = StandInGrader()
    exercise_sync(exercises_root, grader=grader)  # unchanged content: verified again, not measured again
    assert len(grader.calls) == 1 and ExerciseRevision.objects.count() == 1


def _student(world_course):
    user = get_user_model().objects.create_user("dana", password="pw-dana-1")
    Enrolment.objects.create(user=user, course=world_course, role=Enrolment.Role.STUDENT)
    return user


def test_the_job_and_the_grader_use_the_revisions_limits(world, enqueued, django_capture_on_commit_callbacks):
    rev = world.code.current_revision
    with django_capture_on_commit_callbacks(execute=True):
        sub = submission_create(user=world.alice, exercise=world.code, source="class Mini: pass  # + x\n")
    assert enqueued[0]["limits"] == job_time_limits(DERIVED["wall_s"])
    grader = StandInGrader()
    grading_job_run(sub.latest_job.pk, grader=grader)
    assert grader.limits_seen == rev.job_limits() and grader.limits_seen.step_cpu_s == 1.0


def test_a_revision_without_derived_limits_grades_under_the_toml(world, settings):
    ExerciseRevision.objects.filter(pk=world.code.current_revision_id).update(limits={})
    settings.GRADING_MAX_IN_FLIGHT = 0
    sub = submission_create(user=world.alice, exercise=world.code, source="class Mini: pass  # + x\n")
    grader = StandInGrader()
    grading_job_run(sub.latest_job.pk, grader=grader)
    assert grader.limits_seen is None  # the grader then applies the exercise TOML's


def test_the_instructor_sees_the_limits_and_the_toml_ceilings(client, world):
    client.force_login(make_instructor(world.course))
    page = client.get(reverse("instructor-exercise", args=[world.course.slug, world.code.slug])).content.decode()
    card = page[page.index('id="time-limits"') :]
    assert "Wall time, whole grade</td><td>5 s</td><td>20 s</td>" in card
    assert "CPU time per step</td><td>1 s</td>" in card
    assert "CPU time, whole grade</td><td>4 s</td>" in card


def test_a_spinning_submission_is_stopped_early_and_told_the_limit(db, settings, exercises_root, real_grader, client):
    """Real sandbox: the limits derived for identity-block stop an endless loop at the per-step CPU
    limit, far below the TOML's 20 s, and the student's message states the limits."""
    shutil.copytree(IDENTITY_BLOCK, exercises_root / "identity-block", ignore=shutil.ignore_patterns("__pycache__"))
    settings.EXERCISES_DIR = exercises_root
    exercise_sync(exercises_root, grader=real_grader)
    exercise = Exercise.objects.get(slug="identity-block")
    lim = exercise.current_revision.job_limits()
    toml = load_exercise(exercises_root / "identity-block").limits
    assert (
        lim is not None and WALL_FLOOR_S <= lim.wall_s <= toml.wall_s and 0 < lim.step_cpu_s <= lim.cpu_s <= toml.cpu_s
    )
    solution = (exercises_root / "identity-block" / "solution.py").read_text()
    spinning = solution + textwrap.dedent("""

        class IdentityBlock(IdentityBlock):
            def forward(self, x):
                while True:
                    pass
        """)
    settings.GRADING_MAX_IN_FLIGHT = 0
    student = _student(exercise.course)
    sub = submission_create(user=student, exercise=exercise, source=spinning)
    grading_job_run(sub.latest_job.pk, grader=real_grader)
    result = sub.latest_job.__class__.objects.get(pk=sub.latest_job.pk).result
    assert result.outcome == "timeout", result.output
    assert (
        f"{lim.wall_s:g} s in total" in result.output and f"{lim.step_cpu_s:g} s of CPU time per step" in result.output
    )
    assert result.execution["cpu_s"] < toml.cpu_s  # stopped by the derived limit, not the TOML's
    client.force_login(student)  # what the student reads on the submission's page
    page = client.get(reverse("submission-detail", args=[sub.pk])).content.decode()
    assert f"The limits are {lim.wall_s:g} s in total and {lim.step_cpu_s:g} s of CPU time per step" in page


NICE_PROBE = textwrap.dedent("""\
    import os, django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "courseapp.settings")
    django.setup()
    from courseapp import celery as c
    c._web_first()  # at worker start, before the pool forks
    print(os.getpriority(os.PRIO_PROCESS, 0))
    c._web_first()  # again (each pool process): absolute, so it does not add up
    print(os.getpriority(os.PRIO_PROCESS, 0))
    """)


def test_the_worker_start_hook_is_connected():
    from celery.signals import worker_init

    from courseapp import celery as c

    assert c._web_first in [ref() for _key, ref in worker_init.receivers]


@pytest.mark.parametrize("nice, expected", [("7", 7), ("0", 0)])
def test_the_worker_process_runs_at_the_configured_nice(nice, expected):
    """In a fresh process (this one's priority must not change): GRADING_WORKER_NICE, never lowered."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    out = subprocess.run(
        [sys.executable, "-c", NICE_PROBE],
        check=False,
        cwd=ROOT,
        env={**os.environ, "GRADING_WORKER_NICE": nice},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(max(base, expected))] * 2

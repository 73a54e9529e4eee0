"""The passback outbox row is written by the grading worker (the grade's signal fires there), which
logs in to Postgres as the least-privilege grader role: that role must be able to mark the row due."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from django.core.management import call_command
from django.db import connection

from courseapp.lti.launches import launch_accept
from courseapp.lti.models import Passback, Platform
from courseapp.models import Exercise
from courseapp.services import submission_create
from tests.conftest import ROOT
from tests.lti.platform import LEARNER, LoopbackPlatform

pytestmark = pytest.mark.django_db(transaction=True)

WORKER = textwrap.dedent("""
    import sys, django
    django.setup()
    from courseapp.lti import tasks
    tasks.passback_send.apply_async = lambda *a, **kw: print("QUEUED", kw.get("args") or a)
    from courseapp.services import grading_job_run
    from tests.conftest import StandInGrader
    grading_job_run(int(sys.argv[1]), grader=StandInGrader())
""")


@pytest.fixture
def grader_role(monkeypatch):
    role = f"grader_lti_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("GRADER_DB_PASSWORD", "pw-" + uuid.uuid4().hex)
    yield role
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{role}"')
        cursor.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_the_grader_role_marks_the_passback_due(module_course, grader_role, monkeypatch, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("database roles are a Postgres matter")
    from tests.conftest import capture_grading_sends

    capture_grading_sends(monkeypatch, lambda args, options: None)
    lms = LoopbackPlatform()  # its claims only; no server needed here
    platform = Platform.objects.create(
        issuer=lms.issuer,
        client_id=lms.client_id,
        deployment_ids=[lms.deployment_id],
        auth_login_url=lms.auth_login_url,
        auth_token_url=lms.token_url,
        key_set_url=lms.jwks_url,
    )
    lms.server.server_close()
    accepted = launch_accept(platform, lms.base_claims("learner-1", [LEARNER], custom={"exercise": "mini-block"}))
    exercise = Exercise.objects.get(course=accepted.context.course, slug="mini-block")
    submission = submission_create(user=accepted.user, exercise=exercise, source="y = x + x\n")

    call_command("create_db_roles", role=grader_role)
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(
        DATABASE_URL=f"postgres://{grader_role}:{os.environ['GRADER_DB_PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        VAR_DIR=str(tmp_path / "worker-var"),
        EXERCISE_CACHE_DIR=str(tmp_path / "worker-cache"),
    )
    job_id = submission.jobs.get().pk
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(job_id)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "lti passback could not be queued" not in proc.stderr, proc.stderr[-3000:]
    row = Passback.objects.get(user=accepted.user, exercise=exercise)
    assert row.pending and row.reason == "graded"
    assert f"QUEUED [{row.pk}]" in proc.stdout

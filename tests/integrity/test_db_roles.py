"""The grading workers' database role (issue 12, least privilege): `create_db_roles` makes a role
that can run the whole grading path (read the job, write its Result, move the job on) and nothing
else: no delete or change of Results, no new submissions, no password hashes, sessions or tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from django.core.management import call_command
from django.db import connection

from courseapp import services
from courseapp.models import GradingJob, Result
from tests.conftest import ROOT

WORKER = textwrap.dedent("""
    import json, sys, django
    django.setup()
    from django.db import connection, transaction
    from courseapp.services import grading_job_run
    from tests.conftest import StandInGrader
    job_id = int(sys.argv[1])
    grading_job_run(job_id, grader=StandInGrader())
    outcome = {}
    for name, sql in [
        ("delete result", "DELETE FROM courseapp_result"),
        ("change result", "UPDATE courseapp_result SET score = 10"),
        ("new submission", "INSERT INTO courseapp_submission (user_id, revision_id, source, created_at) "
                           "SELECT user_id, revision_id, 'x', now() FROM courseapp_submission LIMIT 1"),
        ("read password hashes", "SELECT password FROM auth_user"),
        ("read sessions", "SELECT * FROM django_session"),
        ("write audit", "DELETE FROM courseapp_auditentry"),
        ("read usernames", "SELECT username FROM auth_user"),
    ]:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql)
            outcome[name] = "allowed"
        except Exception as exc:
            outcome[name] = type(exc).__name__ + ": " + str(exc).splitlines()[0]
    print("OUTCOME " + json.dumps(outcome))
""")


@pytest.fixture
def grader_role(transactional_db, monkeypatch):
    role = f"grader_test_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("GRADER_DB_PASSWORD", "pw-" + uuid.uuid4().hex)
    yield role
    with connection.cursor() as cursor:
        cursor.execute(f'DROP OWNED BY "{role}"')
        cursor.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_the_worker_role_grades_and_can_do_nothing_else(world, enqueued, grader_role, tmp_path):
    sub = services.submission_create(user=world.alice, exercise=world.code, source="return x + x")
    call_command("create_db_roles", role=grader_role)
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY",)}
    env.update(
        DATABASE_URL=f"postgres://{grader_role}:{os.environ['GRADER_DB_PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        VAR_DIR=str(tmp_path / "worker-var"),
        EXERCISE_CACHE_DIR=str(tmp_path / "worker-cache"),
    )
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(sub.latest_job.pk)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    outcome = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("OUTCOME "))[8:])
    assert GradingJob.objects.get(pk=sub.latest_job.pk).status == GradingJob.Status.DONE
    assert Result.objects.get(job__submission=sub).score == 10.0
    assert outcome.pop("read usernames") == "allowed"
    for name, what in outcome.items():
        assert "InsufficientPrivilege" in what or "permission denied" in what, (name, what)


def test_the_role_command_refuses_without_a_password(db, monkeypatch):
    from django.core.management.base import CommandError

    monkeypatch.delenv("GRADER_DB_PASSWORD", raising=False)
    with pytest.raises(CommandError):
        call_command("create_db_roles", role="grader_never_made")

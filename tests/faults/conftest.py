"""Fault-test harness: a PRIVATE Redis and a PRIVATE Postgres on free ports in a temp dir (never
the machine's shared ones), real Celery workers pointed at them, and this test process's Django
and Celery switched over to them for the test's duration. Everything is stopped at the end."""

from __future__ import annotations

import copy
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXERCISES, IDENTITY_BLOCK, ROOT, engine_or_skip, free_port, skip_or_fail


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not happen within {timeout:.0f} s")


class PrivateRedis:
    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait(self._answers, 10, "private redis start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)  # a crash: whatever it held in memory is gone
            self.proc.wait(timeout=10)
        self.proc = None


class PrivatePostgres:
    def __init__(self, workdir: Path):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            skip_or_fail("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
        self.bin = Path(bins[-1]).parent
        self.port = free_port()
        self.dir = workdir / "pg"
        self.dir.mkdir()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(workdir, "postgres")
            shutil.chown(self.dir, "postgres")
        subprocess.run(
            [
                *self.as_postgres,
                str(self.bin / "initdb"),
                "-D",
                str(self.dir / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )

    def start(self) -> None:
        self._ctl(
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            "-w",
            "-l",
            str(self.dir / "log"),
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.dir / "data" / "postmaster.pid").exists()


class Worker:
    """`celery -A courseapp worker` (with embedded beat: the reconciler) on the private services."""

    def __init__(self, env: dict, workdir: Path, name: str):
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "courseapp",
                "worker",
                "-B",
                "-s",
                str(workdir / f"{name}-beat-schedule"),
                "-Q",
                "grade.cpu,grade.gpu,maintenance",
                "--concurrency",
                "1",
                "--prefetch-multiplier",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"{name}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 90
        while b"ready." not in self.log_path.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"the celery worker did not start:\n{self.tail()}")
            time.sleep(0.2)

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def kill(self) -> None:
        """kill -9 the whole worker (main process, pool, beat, sandbox children)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=20)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


# A submission that is slow in forward (3 s on its first call in a process): killed mid-grade.
SLOW_CORRECT = """\
import time
import torch
from torch import nn

_slept = []


class IdentityBlock(nn.Module):
    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        if not _slept:
            _slept.append(1)
            time.sleep(3)
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + x)
"""

WALL_S = 8  # the test exercise's sandbox wall limit: a lost job's deadline is 8 + 2 + 2 + 2 s


class FaultWorld:
    """Private services + this process switched to them + a factory of workers."""

    def __init__(self, workdir: Path, real_grader):
        from django.conf import settings

        self.workdir = workdir
        self.redis = PrivateRedis(workdir)
        self.pg = PrivatePostgres(workdir)
        self.redis.start()
        self.pg.start()
        self.exercises = workdir / "exercises"
        self.exercises.mkdir()
        shutil.copy(EXERCISES / "misconceptions.toml", self.exercises)
        folder = self.exercises / "identity-block"
        shutil.copytree(IDENTITY_BLOCK, folder, ignore=shutil.ignore_patterns("__pycache__"))
        toml = (folder / "exercise.toml").read_text()
        (folder / "exercise.toml").write_text(toml.replace("wall_s = 20", f"wall_s = {WALL_S}"))
        self.env = {
            **os.environ,
            "DATABASE_URL": self.pg.url,
            "DB_CONN_MAX_AGE": "60",
            "REDIS_URL": self.redis.url,
            "REDIS_KEY_PREFIX": "",
            "VAR_DIR": str(workdir / "var"),
            "EXERCISES_DIR": str(self.exercises),
            "GRADER_DEVICE": "cpu",
            "DJANGO_SETTINGS_MODULE": "courseapp.settings",
            "GRADING_RETRY_BACKOFF_S": "1",
            "GRADING_SOFT_MARGIN_S": "2",
            "GRADING_HARD_MARGIN_S": "2",
            "RECONCILE_GRACE_S": "2",
            "RECONCILE_QUEUED_AFTER_S": "8",
            "RECONCILE_INTERVAL_S": "2",
        }
        self.workers: list[Worker] = []
        self._switch_this_process(settings, real_grader)

    def _switch_this_process(self, settings, real_grader) -> None:
        from django.core.management import call_command
        from django.db import connections

        from courseapp.celery import app
        from courseapp.services import exercise_sync

        conn = connections["default"]
        self._saved_db = copy.deepcopy(conn.settings_dict)
        conn.close()
        conn.settings_dict.update(
            ENGINE="django.db.backends.postgresql",
            NAME="postgres",
            USER="postgres",
            PASSWORD="",
            HOST="127.0.0.1",
            PORT=str(self.pg.port),
            CONN_HEALTH_CHECKS=True,
        )
        self._saved_broker = (app.conf.broker_url, copy.deepcopy(app.conf.broker_transport_options))
        self._reset_celery_pool(app)
        app.conf.broker_url = self.redis.url
        options = dict(app.conf.broker_transport_options or {})
        options.pop("global_keyprefix", None)
        app.conf.broker_transport_options = options
        self._saved_settings = {
            k: getattr(settings, k)
            for k in (
                "EXERCISES_DIR",
                "EXERCISE_CACHE_DIR",
                "GRADING_SOFT_MARGIN_S",
                "GRADING_HARD_MARGIN_S",
                "RECONCILE_GRACE_S",
                "RECONCILE_QUEUED_AFTER_S",
                "GRADING_LIMITS_FROM_REFERENCE",
            )
        }
        settings.EXERCISES_DIR = self.exercises
        settings.EXERCISE_CACHE_DIR = self.workdir / "exercise-cache"
        settings.GRADING_SOFT_MARGIN_S = settings.GRADING_HARD_MARGIN_S = settings.RECONCILE_GRACE_S = 2
        settings.RECONCILE_QUEUED_AFTER_S = 8
        settings.GRADING_LIMITS_FROM_REFERENCE = False  # the deadlines here assume the TOML's wall_s = WALL_S
        call_command("migrate", verbosity=0, interactive=False)
        exercise_sync(self.exercises, grader=real_grader)

    @staticmethod
    def _reset_celery_pool(app) -> None:
        if app._pool is not None:
            try:
                app._pool.force_close_all()
            except Exception:  # noqa: BLE001
                pass
        app._pool = None
        try:
            app.__dict__["amqp"]._producer_pool = None
        except (AttributeError, KeyError):
            pass

    def restore(self) -> None:
        from django.conf import settings
        from django.db import connections

        from courseapp.celery import app

        conn = connections["default"]
        try:
            conn.close()
        except Exception:  # noqa: BLE001
            pass
        conn.settings_dict.clear()
        conn.settings_dict.update(self._saved_db)
        self._reset_celery_pool(app)
        app.conf.broker_url, app.conf.broker_transport_options = self._saved_broker
        for k, v in self._saved_settings.items():
            setattr(settings, k, v)

    def start_worker(self) -> Worker:
        worker = Worker(self.env, self.workdir, f"fault-worker-{len(self.workers)}")
        self.workers.append(worker)
        return worker

    def student(self, name: str):
        from django.contrib.auth import get_user_model

        from courseapp.models import Course, Enrolment

        user = get_user_model().objects.create_user(name, password=f"pw-{name}-12345")
        Enrolment.objects.create(user=user, course=Course.objects.get(), role=Enrolment.Role.STUDENT)
        return user

    def submit(self, user, source: str):
        from courseapp import services
        from courseapp.models import Exercise

        return services.submission_create(
            user=user, exercise=Exercise.objects.get(slug="identity-block"), source=source
        )

    def wait_all_graded_once(self, submission_ids: list[int], timeout: float = 120.0) -> dict:
        """Every job done with exactly one Result, within `timeout` (the reconciler's doing if needed)."""
        from django import db

        from courseapp.models import GradingJob, Result

        deadline = time.monotonic() + timeout
        jobs = {}
        while time.monotonic() < deadline:
            try:
                jobs = {j.submission_id: j for j in GradingJob.objects.filter(submission_id__in=submission_ids)}
                if len(jobs) == len(submission_ids) and all(j.status == "done" for j in jobs.values()):
                    counts = {sid: Result.objects.filter(job__submission_id=sid).count() for sid in submission_ids}
                    assert counts == {sid: 1 for sid in submission_ids}, counts
                    return jobs
                failed = [j for j in jobs.values() if j.status == "failed"]
                assert not failed, [(j.pk, j.error) for j in failed]
            except (db.OperationalError, db.InterfaceError):
                db.connections["default"].close()
            time.sleep(0.5)
        states = {sid: (j.status, j.attempts, j.error) for sid, j in jobs.items()}
        tails = "\n".join(w.tail() for w in self.workers)
        pytest.fail(f"not every submission was graded within {timeout:.0f} s: {states}\n{tails}")

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        try:
            self.restore()
        finally:
            self.redis.stop()
            try:
                if self.pg.running():
                    self.pg.stop("immediate")
            finally:
                shutil.rmtree(self.workdir, ignore_errors=True)


@pytest.fixture
def fault_world(real_grader, django_db_blocker, tmp_path_factory):
    engine_or_skip()
    for tool in ("redis-server",):
        if not shutil.which(tool):
            skip_or_fail(f"{tool} is not installed")
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="courseapp-faults-"))
    os.chmod(workdir, 0o755)
    with django_db_blocker.unblock():
        world = FaultWorld(workdir, real_grader)
        try:
            yield world
        finally:
            world.close()

"""Shared fixtures for the Django side: exercise folders, a stand-in grader, the real grader and a
real Celery worker process (integration and browser tests)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
IDENTITY_BLOCK = EXERCISES / "identity-block"


def services_required() -> bool:
    """scripts/test.sh sets COURSEAPP_REQUIRE_SERVICES=1: there a missing service fails the run."""
    return os.environ.get("COURSEAPP_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    if services_required():
        pytest.fail(reason + " (COURSEAPP_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def _session_settings(tmp_path_factory):
    """For the whole run: passwords hashed with a fast hasher (the default's million PBKDF2 rounds
    cost about a second per user created or logged in, hundreds of times over), and one self-test
    record of this run's own (GRADER_SELFTEST_CACHE_DIR; in the environment too, for the processes the
    tests start), empty at the start: every run self-tests each exercise folder at least once."""
    from django.test.utils import override_settings

    record = tmp_path_factory.mktemp("selftest-cache")
    os.environ["GRADER_SELFTEST_CACHE_DIR"] = str(record)
    with override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"], GRADER_SELFTEST_CACHE_DIR=str(record)
    ):
        yield


# ---- local servers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def nginx_conf(run_dir: Path, upstream: str, listen: str) -> Path:
    """A whole nginx config in run_dir around deploy/nginx.conf's site (compose's `proxy`): its
    upstream `web:8000` (a name only compose resolves) replaced by `upstream`, listening on `listen`."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("server web:8000;", f"server {upstream};").replace("listen 8080;", f"listen {listen};")
    conf = run_dir / "nginx.conf"
    conf.write_text(
        f"pid {run_dir}/nginx.pid;\nerror_log {run_dir}/error.log;\nworker_processes 1;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {run_dir};\n proxy_temp_path {run_dir};\n{site}\n}}\n"
    )
    return conf


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """What a web process keeps between requests for a moment (a queue's recent rate) starts empty in
    each test, whose database starts from its own state."""
    selectors = sys.modules.get("courseapp.selectors")
    if selectors is not None:
        selectors.queue_rates_forget()
    yield


# ---- exercise folders ----------------------------------------------------------------------

MINI_TOML = """\
slug = "{slug}"
title = "{title}"
kind = "{kind}"
max_score = 10
queue = "{queue}"
order = {order}
{extra}
"""


def write_module_folder(
    root: Path,
    slug: str = "mini-block",
    *,
    title: str = "A mini block",
    queue: str = "cpu",
    order: int = 1,
    prompt: str = "# Mini block\n\nWrite `Mini`.\n",
) -> Path:
    """A small but valid 'module' exercise folder (for tests that use the stand-in grader)."""
    folder = root / slug
    folder.mkdir(parents=True)
    (folder / "exercise.toml").write_text(
        MINI_TOML.format(
            slug=slug, title=title, kind="module", queue=queue, order=order, extra='[interface]\nclass_name = "Mini"\n'
        )
    )
    (folder / "prompt.md").write_text(prompt)
    (folder / "starter.py").write_text("import torch\n\n\nclass Mini(torch.nn.Module):\n    pass\n")
    (folder / "solution.py").write_text(
        "import torch\n\n\nclass Mini(torch.nn.Module):\n    def forward(self, x):\n        return x + x\n"
    )
    (folder / "checks.py").write_text("CHECKS = []\n")
    return folder


def write_freetext_folder(root: Path, slug: str = "mini-text", *, order: int = 2) -> Path:
    folder = root / slug
    folder.mkdir(parents=True)
    (folder / "exercise.toml").write_text(
        MINI_TOML.format(
            slug=slug, title="Explain the skip", kind="freetext", queue="cpu", order=order, extra="max_chars = 300\n"
        )
    )
    (folder / "prompt.md").write_text("Why does the skip help?\n")
    (folder / "rubric.toml").write_text("# concepts\n")
    (folder / "solution.md").write_text("The identity is easy to learn.\n")
    return folder


@pytest.fixture
def exercises_root(tmp_path: Path) -> Path:
    """An exercises/ folder with the real misconception catalogue and nothing else yet."""
    root = tmp_path / "exercises"
    root.mkdir()
    shutil.copy(EXERCISES / "misconceptions.toml", root / "misconceptions.toml")
    return root


# ---- graders --------------------------------------------------------------------------------


class StandInGrader:
    """Grader-shaped stand-in for unit tests of the Django side: full marks when the source
    contains '+ x' (or is the mini reference), else a 'shortcut missing' result with one hidden and
    one visible failed check."""

    def __init__(self, fail_with: Exception | None = None):
        self.calls: list[tuple[str, bytes]] = []
        self.fail_with = fail_with
        self.closed = False

    def grade(self, spec, data: bytes, progress=None, limits=None):
        from grader.results import CheckResult, Execution, GradeResult, Outcome

        self.calls.append((spec.slug, data))
        self.limits_seen = limits
        self.progress_seen = None
        if progress is not None:
            progress("train", {"net": "plain", "step": 1, "total": 2, "loss": 2.5})
        if self.fail_with is not None:
            raise self.fail_with
        ok = b"+ x" in data or spec.kind == "freetext"
        tests = [
            CheckResult(
                name="output keeps the input's shape",
                score=2,
                max_score=2,
                status="passed",
                output="shape (2, 4, 5, 5) as expected",
                visibility="visible",
            ),
            CheckResult(
                name="the shortcut adds the input",
                score=8 if ok else 0,
                max_score=8,
                status="passed" if ok else "failed",
                output="" if ok else "SECRET-DIAGNOSTIC: largest difference 1.7 at [0, 1, 2, 3]",
                visibility="hidden",
                misconceptions=[] if ok else ["shortcut_missing"],
            ),
        ]
        return GradeResult(
            score=10.0 if ok else 2.0,
            max_score=10.0,
            status="graded",
            output="All checks passed." if ok else "1 of 2 checks failed.",
            outcome=Outcome.OK if ok else Outcome.WRONG,
            tests=tests,
            misconceptions=[] if ok else ["shortcut_missing"],
            execution=Execution(wall_s=0.5, cpu_s=0.4, device="cpu", peak_rss_mb=150.0),
        )

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def stand_in_grader() -> StandInGrader:
    return StandInGrader()


def engine_or_skip():
    try:
        from grader.engine import Grader  # noqa: F401
    except ImportError as exc:
        skip_or_fail(f"grader.engine is not available yet: {exc}")
    if not (IDENTITY_BLOCK / "exercise.toml").is_file():
        skip_or_fail("exercises/identity-block is not there yet")


@pytest.fixture(scope="session")
def real_grader():
    """One real Grader for the session (it keeps a warm sandbox pool)."""
    engine_or_skip()
    from grader.engine import Grader

    grader = Grader(device=os.environ.get("GRADER_DEVICE", "cpu"))
    yield grader
    grader.close()


# ---- sources for identity-block ------------------------------------------------------------

IDENTITY_CORRECT = textwrap.dedent("""\
    import torch
    from torch import nn


    class IdentityBlock(nn.Module):
        def __init__(self, channels: int, kernel_size: int = 3):
            super().__init__()
            pad = kernel_size // 2
            self.conv1 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
            self.bn1 = nn.BatchNorm2d(channels)
            self.conv2 = nn.Conv2d(channels, channels, kernel_size, padding=pad, bias=False)
            self.bn2 = nn.BatchNorm2d(channels)

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return torch.relu(out + x)
    """)

IDENTITY_NO_SHORTCUT = IDENTITY_CORRECT.replace("return torch.relu(out + x)", "return torch.relu(out)")


# ---- a real Celery worker ------------------------------------------------------------------


def _db_url_for(settings_dict) -> str:
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = user + (f":{password}" if password else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{auth}@{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def services_or_skip():
    """Postgres as the database and Redis as the broker, or skip (fail under scripts/test.sh)."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        skip_or_fail("needs DATABASE_URL=postgres://... (scripts/test.sh sets it)")
    if not settings.REDIS_URL:
        skip_or_fail("needs REDIS_URL=redis://... (scripts/test.sh sets it)")
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis at {settings.REDIS_URL} does not answer: {exc}")
    engine_or_skip()


def _forget_queued_messages(client, prefix: str) -> None:
    """No messages left over from an earlier run: this run's keys only when it has a prefix of its own."""
    if not prefix:
        client.flushdb()
        return
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)


@contextmanager
def start_celery_worker(queues: str, name: str, *, var_dir: Path, env: dict[str, str] | None = None, args=()):
    """A real `celery -A courseapp worker -Q queues` process on the test database and the test Redis
    db, its log in var_dir/worker.log (proc.log_path); stopped, and this run's queued messages
    forgotten, on exit. env: variables on top of the test settings'; args: more worker options."""
    import redis
    from django.conf import settings
    from django.db import connection

    log_path = var_dir / "worker.log"
    full_env = {
        **os.environ,
        "DATABASE_URL": _db_url_for(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "VAR_DIR": str(var_dir),
        "DJANGO_SETTINGS_MODULE": "courseapp.settings",
        **(env or {}),
    }
    command = [sys.executable, "-m", "celery", "-A", "courseapp", "worker", "-Q", queues, "--concurrency", "1"]
    command += [*args, "--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    command += ["--hostname", f"{name}-{os.getpid()}@%h"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 60
            while b"ready." not in log_path.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"the celery worker {name} did not start:\n" + log_path.read_text(errors="replace")[-4000:]
                    )
                time.sleep(0.2)
            proc.log_path = log_path  # type: ignore[attr-defined]  # the log path rides on the Popen object for the fixtures
            yield proc
        finally:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except ProcessLookupError:
                pass  # it is gone already (it did not start)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if settings.REDIS_KEY_PREFIX:
                _forget_queued_messages(redis.Redis.from_url(settings.REDIS_URL), settings.REDIS_KEY_PREFIX)


@pytest.fixture(scope="session")
def celery_worker_process(services_or_skip, django_db_setup, django_db_blocker, tmp_path_factory):
    """The grading worker process, one for the session: `celery -A courseapp worker -Q grade.cpu,grade.gpu`."""
    import redis
    from django.conf import settings

    _forget_queued_messages(redis.Redis.from_url(settings.REDIS_URL), settings.REDIS_KEY_PREFIX)
    env = {
        "EXERCISES_DIR": str(settings.EXERCISES_DIR),
        "GRADER_DEVICE": os.environ.get("GRADER_DEVICE", "cpu"),
        "GRADING_RETRY_BACKOFF_S": "1",
    }
    with start_celery_worker(
        "grade.cpu,grade.gpu",
        "test-worker",
        var_dir=tmp_path_factory.mktemp("worker-var"),
        env=env,
        args=("--prefetch-multiplier", "1"),
    ) as proc:
        yield proc


@pytest.fixture
def celery_worker(celery_worker_process):
    """The session's grading worker, drained when the test ends: a test that submits and does not wait
    for the grade would otherwise leave the worker writing job rows while the test database is
    flushed (TRUNCATE then deadlocks with the worker's reads, and the next test starts on leftovers).
    This fixture is set up after the database fixture, so its teardown runs before the flush."""
    yield celery_worker_process
    _drain_grading(celery_worker_process)


def _drain_grading(worker, timeout: float = 60.0) -> None:
    """Wait until no job of this test is queued or running (the worker finishes what it was sent);
    past the timeout, forget the queued messages and wait for the running job alone."""
    import redis
    from django.conf import settings
    from django.db import connection

    from courseapp.models import GradingJob

    if connection.in_atomic_block:
        return  # a test in a transaction: the worker cannot see its rows, and nothing is flushed after it
    unfinished = [GradingJob.Status.QUEUED, GradingJob.Status.RUNNING]
    deadline = time.monotonic() + timeout
    forgotten = False
    while True:
        try:
            statuses = set(GradingJob.objects.filter(status__in=unfinished).values_list("status", flat=True))
        except Exception:  # the test left its transaction broken: nothing to wait for that we can see
            connection.close()
            return
        if not statuses or (forgotten and GradingJob.Status.RUNNING not in statuses):
            return
        if time.monotonic() > deadline:
            if forgotten:
                return
            _forget_queued_messages(redis.Redis.from_url(settings.REDIS_URL), settings.REDIS_KEY_PREFIX)
            forgotten, deadline = True, time.monotonic() + 30
        time.sleep(0.2)


def capture_grading_sends(monkeypatch, record) -> None:
    """Send no grading task (courseapp.services.jobs sends it by name through the Celery app): call
    record(args, options) instead. Every other task (an LTI passback, say) goes out as usual."""
    from courseapp.celery import app
    from courseapp.services.jobs import GRADE_TASK

    real_send_task = app.send_task

    def send_task(name, args=None, kwargs=None, **options):
        if name != GRADE_TASK:
            return real_send_task(name, args=args, kwargs=kwargs, **options)
        record(args, options)
        return None

    monkeypatch.setattr(app, "send_task", send_task)


def wait_for_job(submission_id: int, timeout: float = 180.0, worker=None):
    """Poll the job row until it is done or failed (the worker writes it from another process)."""
    from courseapp.models import GradingJob

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = GradingJob.objects.select_related("result").get(submission_id=submission_id)
        if job.is_finished:
            return job
        time.sleep(0.3)
    tail = worker.log_path.read_text(errors="replace")[-4000:] if worker is not None else ""
    pytest.fail(f"submission {submission_id} was not graded within {timeout:.0f} s; worker log:\n{tail}")

"""Deadline-rush load scenario: N simulated students (logged in before the rush, as they are at a
deadline) open the exercises, submit a realistic mix and follow their status the way the page does
(status.json with If-None-Match and back-off) until feedback arrives.

The mix covers the course's module exercises (identity-block, conv-block, bottleneck-block,
preact-block, resnet-assembly; --exercises): ~45% correct (the reference and the correct styles in
tests/grader/submissions/<slug>/), the rest buggy (every mistakes/ file appended to the reference,
and the student-written bugs in tests/grader/submissions/<slug>/), --hostile-share hostile (of which
--loop-share endless loops; memory bombs, syntax errors, os.system).

By default it brings up its own stack on this machine, like scripts/run.sh but on a PRIVATE
Postgres and Redis (free ports, a temp dir; never the shared ones): sync_exercises (self-tests,
derives each revision's limits), gunicorn (gunicorn.conf.py: cores + 1 processes, one request at a time each), --worker-hosts simulated worker
machines (each its own hostname and var/, one broker and database) of --workers Celery worker
processes (concurrency 1 each), the reconciler. Before the stack starts it measures the capacity
baselines for the same number of workers: warm Graders on a queue of correct submissions to the same
exercises, and bench/grading.py's throughput (identity-block). With --url it only drives an existing
deployment (the users must exist: --password).

    .venv/bin/python bench/load/run.py --students 300 --submissions 10 --workers 2
    .venv/bin/python bench/load/run.py --students 20 --submissions 2 --workers 1 --worker-hosts 2

Flood scenario (issue 12, fair queues): --flood N makes one more student submit N times as fast as
the web answers, over --flood-connections connections (no waiting for feedback, no double-submit
token; --flood-kind sleeper holds a worker for the wall limit per job), while the --students others
submit as usual; the report gives the others' submit-to-feedback latency apart, to compare with the
same run without --flood:

    .venv/bin/python bench/load/run.py --students 30 --submissions 1 --workers 2 --hostile-share 0 --loop-share 0
    .venv/bin/python bench/load/run.py --students 30 --submissions 1 --workers 2 --hostile-share 0 --loop-share 0 \
        --flood 50 --flood-kind sleeper

Prints page p50/p95 (HTML pages), status-poll p50/p95, submit POST and login POST apart,
submit-to-feedback p50/p95, grades per second against the capacity baselines, grades per worker
host, errors and lost submissions (accepted by the web but without exactly one result: must be 0).
Not run in CI.
"""

from __future__ import annotations

import argparse
import glob
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "tests" / "grader" / "submissions"
PY = sys.executable
# The module exercises of the course (the rush's mix); identity-block first (the flood's target).
EXERCISES = ["identity-block", "conv-block", "bottleneck-block", "preact-block", "resnet-assembly"]


def _interface(slug: str) -> tuple[str, str]:
    """("class" | "function", name) from the exercise's [interface]."""
    toml = (ROOT / "exercises" / slug / "exercise.toml").read_text()
    m = re.search(r'^class_name\s*=\s*"(\w+)"', toml, re.M)
    if m:
        return "class", m.group(1)
    m = re.search(r'^function_name\s*=\s*"(\w+)"', toml, re.M)
    if not m:
        raise SystemExit(f"exercises/{slug}/exercise.toml names no class_name or function_name")
    return "function", m.group(1)


def hostile_sources(slug: str) -> dict[str, str]:
    """Hostile submissions that define the exercise's interface: an endless loop, a memory bomb, a
    sleeper (holds a worker for the wall limit without burning CPU), a syntax error, os.system."""
    kind, name = _interface(slug)
    bodies = {
        "infinite_loop": "while True:\n            pass\n",
        "memory_bomb": "hog = []\n        while True:\n            hog.append(bytearray(64 * 2**20))\n",
        "sleeper": "time.sleep(3600)\n",
    }
    out = {}
    for what, body in bodies.items():
        if kind == "class":
            out[what] = (
                f"import time\nimport torch\nfrom torch import nn\n\n\nclass {name}(nn.Module):\n"
                f"    def __init__(self, *args, **kwargs):\n        super().__init__()\n\n"
                f"    def forward(self, x):\n        {body}"
            )
        else:
            out[what] = f"import time\nimport torch\n\n\ndef {name}(*args, **kwargs):\n    if True:\n        {body}"
    out["syntax_error"] = f"{'class' if kind == 'class' else 'def'} {name}(:\n    pass\n"
    stub = f"class {name}: pass\n" if kind == "class" else f"def {name}(): pass\n"
    out["import_os_system"] = "import os\nos.system('echo pwned > /tmp/pwned')\n" + stub
    return out


class Sources:
    """Per exercise: correct answers (the reference, and the correct styles under
    tests/grader/submissions/<slug>/), buggy ones (every mistakes/ file appended to the reference, as
    the self-test builds them, and the student-written bugs under tests/grader/submissions/<slug>/),
    and the hostile ones."""

    def __init__(self, slugs: list[str]):
        self.correct: dict[str, list[tuple[str, str]]] = {}
        self.buggy: dict[str, list[tuple[str, str]]] = {}
        self.hostile: dict[str, dict[str, str]] = {}
        for slug in slugs:
            folder = ROOT / "exercises" / slug
            solution = (folder / "solution.py").read_text()
            subs = sorted((SUBMISSIONS / slug).glob("*.py")) if (SUBMISSIONS / slug).is_dir() else []
            self.correct[slug] = [("reference", solution)] + [
                (p.stem, p.read_text()) for p in subs if p.stem.startswith("correct")
            ]
            self.buggy[slug] = [
                (f"mistake:{p.stem}", solution + "\n" + p.read_text())
                for p in sorted((folder / "mistakes").glob("*.py"))
            ] + [(p.stem, p.read_text()) for p in subs if not p.stem.startswith("correct")]
            self.hostile[slug] = hostile_sources(slug)


def mix(rng: random.Random, sources: Sources, slug: str, hostile_share: float, loop_share: float) -> tuple[str, str]:
    """(kind, source) for one submission to `slug`: ~45% correct, the rest buggy (every known mistake),
    a few hostile (loop_share endless loops, the rest of hostile_share bombs, syntax errors, os.system)."""
    r = rng.random()
    if r < loop_share:
        return "hostile:infinite_loop", sources.hostile[slug]["infinite_loop"]
    if r < hostile_share:
        name = rng.choice(["memory_bomb", "syntax_error", "import_os_system"])
        return f"hostile:{name}", sources.hostile[slug][name]
    if r < hostile_share + 0.45:
        name, source = rng.choice(sources.correct[slug])
        return f"correct:{name}", source
    name, source = rng.choice(sources.buggy[slug])
    return f"buggy:{name}", source


# ---- a private stack ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise SystemExit(f"{what} did not come up within {timeout} s")


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def nginx_in_front(upstream_port: int, tmp: Path) -> tuple[subprocess.Popen, int]:
    """nginx with deploy/nginx.conf's server block (compose's `proxy`), its upstream pointed at
    127.0.0.1:upstream_port; (the process, the port it listens on)."""
    port = free_port()
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("server web:8000;", f"server 127.0.0.1:{upstream_port};")
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    run_dir = Path(tempfile.mkdtemp(prefix="nginx-", dir=tmp))
    conf = run_dir / "nginx.conf"
    conf.write_text(
        f"pid {run_dir}/nginx.pid;\nerror_log {run_dir}/error.log;\nworker_processes 1;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {run_dir};\n proxy_temp_path {run_dir};\n{site}\n}}\n"
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(run_dir), "-g", "daemon off;"], start_new_session=True)
    return proc, port


class Stack:
    def __init__(
        self,
        workers: int,
        students: int,
        password: str,
        slugs: list[str],
        worker_hosts: int = 1,
        web_workers: int = 0,
        web_threads: int = 0,
        nginx: bool = False,
    ):
        self.tmp = Path(tempfile.mkdtemp(prefix="courseapp-load-"))
        os.chmod(self.tmp, 0o755)
        self.procs: list[subprocess.Popen] = []
        self.pg_ctl = None
        try:
            self._start(workers, students, password, slugs, worker_hosts, web_workers, web_threads)
            if nginx:  # the compose shape: the clients talk to nginx (deploy/nginx.conf), nginx to gunicorn
                proxy, self.web_port = nginx_in_front(self.web_port, self.tmp)
                self.procs.append(proxy)
                self.roles[proxy.pid] = "web"
                wait_until(lambda: port_open(self.web_port), 30, "nginx")
        except BaseException:
            self.stop()
            raise

    def _start(
        self,
        workers: int,
        students: int,
        password: str,
        slugs: list[str],
        worker_hosts: int,
        web_workers: int,
        web_threads: int,
    ) -> None:
        redis_port, pg_port, self.web_port = free_port(), free_port(), free_port()
        self.procs.append(
            subprocess.Popen(
                ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        pgbin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent
        pgdir = self.tmp / "pg"
        pgdir.mkdir()
        as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_pg:
            shutil.chown(self.tmp, "postgres")
            shutil.chown(pgdir, "postgres")
        subprocess.run(
            [*as_pg, str(pgbin / "initdb"), "-D", str(pgdir / "data"), "-U", "postgres", "--auth=trust", "--no-sync"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self.pg_ctl = [*as_pg, str(pgbin / "pg_ctl"), "-D", str(pgdir / "data")]
        subprocess.run(
            [
                *self.pg_ctl,
                "-o",
                f"-p {pg_port} -k {pgdir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                "-w",
                "-l",
                str(pgdir / "log"),
                "start",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        exercises = self.tmp / "exercises"
        exercises.mkdir()
        shutil.copy(ROOT / "exercises" / "misconceptions.toml", exercises)
        for slug in slugs:
            shutil.copytree(ROOT / "exercises" / slug, exercises / slug, ignore=shutil.ignore_patterns("__pycache__"))
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pg_port}/postgres",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "REDIS_KEY_PREFIX": "",
            "VAR_DIR": str(self.tmp / "var"),
            "EXERCISES_DIR": str(exercises),
            "DJANGO_SETTINGS_MODULE": "courseapp.settings",
            "GRADER_DEVICE": "cpu",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "WARNING",
            "DEBUG": "0",
            "DB_CONN_MAX_AGE": "60",
            "LOGIN_MAX_FAILURES": "1000",
            "SECRET_KEY": "load-test-" + "k" * 40,
        }

        def run(*a: str) -> None:
            subprocess.run([PY, "manage.py", *a], cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL)

        run("migrate", "--noinput")
        t = time.perf_counter()
        run("sync_exercises")  # self-tests every exercise and derives its limits from the reference's cost
        self.sync_s = time.perf_counter() - t
        self.limits = json.loads(
            subprocess.run(
                [
                    PY,
                    "manage.py",
                    "shell",
                    "-c",
                    (
                        "import json; from courseapp.models import Exercise;"
                        "print(json.dumps({e.slug: e.current_revision.limits for e in Exercise.objects.all()}))"
                    ),
                ],
                cwd=ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        run(
            "shell",
            "-c",
            (
                "from django.contrib.auth import get_user_model; from django.contrib.auth.hashers import make_password;"
                "from courseapp.models import Course, Enrolment;"
                "U = get_user_model(); c = Course.objects.get(); h = make_password(%r);"
                "us = U.objects.bulk_create([U(username='load%%04d' %% i, password=h) for i in range(%d)]);"
                "Enrolment.objects.bulk_create([Enrolment(user=u, course=c) for u in U.objects.filter(username__startswith='load')])"
            )
            % (password, students),
        )
        logs = self.tmp / "logs"
        logs.mkdir()
        # --worker-hosts H: H simulated worker machines, each with its own hostname and var/ (exercise
        # cache, sandbox state), sharing only the broker and the database, as separate hosts would.
        self.worker_logs: dict[str, list[Path]] = {}
        for h in range(worker_hosts):
            host = f"host{h}" if worker_hosts > 1 else "%h"
            env = {**self.env, "LOG_LEVEL": "INFO"}  # grade_finished lines: which host graded what
            if worker_hosts > 1:
                env["VAR_DIR"] = str(self.tmp / f"var-{host}")
                env["EXERCISE_CACHE_DIR"] = str(self.tmp / f"var-{host}" / "exercise-cache")
            for i in range(workers):
                log = logs / f"worker-{h}-{i}.log"
                self.worker_logs.setdefault(host, []).append(log)
                self.procs.append(
                    subprocess.Popen(
                        [
                            PY,
                            "-m",
                            "celery",
                            "-A",
                            "courseapp",
                            "worker",
                            "-Q",
                            "grade.cpu,grade.gpu",
                            "--concurrency",
                            "1",
                            "--prefetch-multiplier",
                            "1",
                            "--without-gossip",
                            "--without-mingle",
                            "--hostname",
                            f"load{i}@{host}",
                            "--loglevel",
                            "WARNING",
                        ],
                        cwd=ROOT,
                        env=env,
                        start_new_session=True,
                        stdout=open(log, "wb"),
                        stderr=subprocess.STDOUT,
                    )
                )
        # the reconciler, as the beat service runs it
        self.procs.append(
            subprocess.Popen(
                [PY, "manage.py", "reconcile_jobs", "--loop", "30"],
                cwd=ROOT,
                env=self.env,
                start_new_session=True,
                stdout=open(logs / "reconciler.log", "wb"),
                stderr=subprocess.STDOUT,
            )
        )
        self.procs.append(
            subprocess.Popen(
                [
                    PY,
                    "-m",
                    "gunicorn",
                    "courseapp.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.web_port}",
                ],
                cwd=ROOT,  # gunicorn.conf.py: processes and threads from the cores (WEB_WORKERS, WEB_THREADS)
                env={
                    **self.env,
                    **({"WEB_WORKERS": str(web_workers)} if web_workers else {}),
                    **({"WEB_THREADS": str(web_threads)} if web_threads else {}),
                },
                start_new_session=True,
                stdout=open(logs / "web.log", "wb"),
                stderr=subprocess.STDOUT,
            )
        )
        wait_until(lambda: port_open(self.web_port), 60, "gunicorn")
        self.roles = {self.procs[0].pid: "redis", self.procs[-2].pid: "reconciler", self.procs[-1].pid: "web"}
        self.roles.update({p.pid: "workers (+ sandboxes)" for p in self.procs[1:-2]})
        try:
            self.roles[int((pgdir / "data" / "postmaster.pid").read_text().split()[0])] = "postgres"
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(8)  # workers warm their sandboxes

    def grades_per_host(self) -> dict[str, int]:
        """How many grades each (simulated) worker host finished, from its workers' JSON log lines."""
        return {
            host: sum(p.read_text(errors="replace").count('"grade_finished"') for p in logs if p.exists())
            for host, logs in self.worker_logs.items()
        }

    def db_check(self, submission_ids: list[int]) -> dict:
        code = (
            "import json; from django.db.models import Count; from courseapp.models import GradingJob, Result;"
            f"ids = {sorted(submission_ids)!r};"
            "jobs = {j.submission_id: j.status for j in GradingJob.objects.filter(submission_id__in=ids)};"
            "res = dict(Result.objects.filter(job__submission_id__in=ids).values_list('job__submission_id')"
            ".annotate(n=Count('id')));"
            "print(json.dumps({'jobs': len(jobs), 'done': sum(s == 'done' for s in jobs.values()),"
            " 'failed': sum(s == 'failed' for s in jobs.values()),"
            " 'one_result': sum(res.get(i) == 1 for i in ids), 'more_results': sum((res.get(i) or 0) > 1 for i in ids),"
            " 'total_submissions_in_db': GradingJob.objects.count()}))"
        )
        out = subprocess.run(
            [PY, "manage.py", "shell", "-c", code], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        if self.pg_ctl:
            subprocess.run(
                [*self.pg_ctl, "-m", "immediate", "-w", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- where the CPU goes ----------------------------------------------------------------------------

CLK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(ppid, CPU seconds used) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK


def _machine_busy_s() -> float:
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / CLK  # all but idle and iowait


class CpuSampler(threading.Thread):
    """Samples every process twice a second and charges its CPU time to the component whose process it
    descends from (web, postgres, redis, workers with their sandboxes, reconciler, the load generator).
    A process that ends between samples loses its last half second (the short-lived sandboxes), so
    the workers' share is also given as the machine's busy time minus everything else."""

    def __init__(self, roles: dict[int, str]):
        super().__init__(daemon=True)
        self.roles = {**roles, os.getpid(): "load generator"}
        self.seen: dict[int, tuple[str, float, float]] = {}  # pid -> (role, first seen, last seen CPU s)
        self.stop_event = threading.Event()
        self.busy0 = _machine_busy_s()
        self.t0 = time.perf_counter()
        self._baseline = True  # processes already running count from now on
        self.series: list[tuple[float, float, dict[str, float]]] = []  # (s since start, busy CPU s, CPU s by role)
        self.sample()
        self._baseline = False

    def _role(self, pid: int, stats: dict[int, tuple[int, float]]) -> str | None:
        for _ in range(64):
            if pid in self.roles:
                return self.roles[pid]
            parent = stats.get(pid)
            if parent is None or parent[0] <= 1:
                return None
            pid = parent[0]
        return None

    def sample(self) -> None:
        stats = {}
        for name in os.listdir("/proc"):
            if name.isdigit() and (st := _proc_stat(int(name))) is not None:
                stats[int(name)] = st
        for pid, (_ppid, cpu) in stats.items():
            if pid in self.seen:
                role, first, _ = self.seen[pid]
                self.seen[pid] = (role, first, cpu)
            elif (role := self._role(pid, stats)) is not None:
                self.seen[pid] = (role, cpu if self._baseline else 0.0, cpu)
        by_role: dict[str, float] = {}
        for role, first, last in self.seen.values():
            by_role[role] = by_role.get(role, 0.0) + max(0.0, last - first)
        self.series.append((time.perf_counter() - self.t0, _machine_busy_s() - self.busy0, by_role))

    def by_window(self, window_s: float) -> list[dict]:
        """Cores used by each component in each window of the rush (the opening burst apart)."""
        out = []
        marks = [self.series[0]]
        for point in self.series[1:]:
            if point[0] - marks[-1][0] >= window_s:
                marks.append(point)
        for (t0, busy0, roles0), (t1, busy1, roles1) in zip(marks, marks[1:]):
            span = t1 - t0
            cores = {k: round((v - roles0.get(k, 0.0)) / span, 2) for k, v in sorted(roles1.items())}
            others = sum(v for k, v in cores.items() if not k.startswith("workers"))
            out.append(
                {
                    "from_s": round(t0),
                    "busy_cores": round((busy1 - busy0) / span, 2),
                    "cores_by_component": cores,
                    "workers_cores_as_busy_minus_others": round((busy1 - busy0) / span - others, 2),
                }
            )
        return out

    def run(self) -> None:
        while not self.stop_event.wait(0.5):
            self.sample()

    def report(self) -> dict:
        self.stop_event.set()
        self.sample()
        wall = time.perf_counter() - self.t0
        busy = _machine_busy_s() - self.busy0
        by_role: dict[str, float] = {}
        for role, first, last in self.seen.values():
            by_role[role] = by_role.get(role, 0.0) + max(0.0, last - first)
        others = sum(v for k, v in by_role.items() if not k.startswith("workers"))
        return {
            "wall_s": round(wall, 1),
            "cores": os.cpu_count(),
            "machine_busy_cpu_s": round(busy, 1),
            "machine_busy_cores": round(busy / wall, 2),
            "cpu_s_by_component": {k: round(v, 1) for k, v in sorted(by_role.items())},
            "workers_cpu_s_as_busy_minus_others": round(busy - others, 1),
        }


class LagProbe(threading.Thread):
    """How late the load generator itself runs: a thread that sleeps 10 ms again and again and records
    how much later than asked it woke up (CPU and GIL queueing in this process). The latencies the
    students measure include this much of the generator's own delay."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.lags: list[float] = []
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            t = time.perf_counter()
            time.sleep(0.01)
            self.lags.append(time.perf_counter() - t - 0.01)


# ---- a simulated student ------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.pages: list[float] = []  # HTML pages a student opens (login, list, exercise, submission, feedback)
        # (kind, seconds since the rush began, seconds it took) for each page: where the tail is
        self.page_log: list[tuple[str, float, float]] = []
        self.t0 = time.perf_counter()  # reset when the rush begins
        self.polls: list[float] = []  # status.json polls (the page's script)
        self.submits: list[float] = []  # the submit POST (writes the rows, queues the job)
        self.logins: list[float] = []  # the login POST (a deliberately slow password hash), apart from pages
        self.rate_limited = 0  # submissions refused by the queue limits, then sent again after the wait
        self.feedback: list[float] = []
        self.status_polls = 0
        self.not_modified = 0
        self.errors: dict[str, int] = {}
        self.submitted: list[int] = []
        self.graded: dict[int, str] = {}
        self.kinds: dict[str, int] = {}
        self.flood_accepted: list[int] = []
        self.flood_refused: dict[str, int] = {}
        self.by_exercise: dict[str, int] = {}

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1


class Browser:
    def __init__(self, host: str, port: int, stats: Stats):
        self.host, self.port, self.stats = host, port, stats
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def request(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        headers: dict | None = None,
        page: bool | str = True,
        expect: tuple[int, ...] = (),
    ) -> tuple[int, dict, str]:
        """page: True times it as a page, "polls"/"submits" into that list, False not at all.
        expect: 4xx answers that are part of the scenario (not errors)."""
        hdrs = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body)
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
            hdrs["Referer"] = f"http://{self.host}:{self.port}{path}"
        for attempt in range(3):
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                break
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    self.stats.error(f"{method} connection")
                    return 0, {}, ""
                time.sleep(0.5)
        elapsed = time.perf_counter() - t0
        for value in resp.headers.get_all("Set-Cookie") or []:
            c = SimpleCookie()
            c.load(value)
            for k, morsel in c.items():
                self.cookies[k] = morsel.value
        if method == "GET" and resp.status in (301, 302) and resp.headers.get("Location", "").startswith("/"):
            return self.request("GET", resp.headers["Location"], headers=headers, page=page)  # e.g. the course's page
        if page:
            with self.stats.lock:
                getattr(self.stats, page if isinstance(page, str) else "pages").append(elapsed)
                if page is True:
                    self.stats.page_log.append((page_kind(path), time.perf_counter() - self.stats.t0, elapsed))
        if resp.status >= 500 or (resp.status >= 400 and resp.status not in (404, *expect)):
            self.stats.error(f"{method} {re.sub(r'[0-9]+', 'N', path)} -> {resp.status}")
        return resp.status, dict(resp.headers), text


def page_kind(path: str) -> str:
    """The page a path shows, for the per-page breakdown."""
    if "/feedback/" in path:
        return "feedback"
    if path.startswith("/submissions/"):
        return "submission"
    if "/exercises/" in path:
        return "exercise"
    return "course list"


def page_breakdown(log: list[tuple[str, float, float]], window_s: float) -> dict:
    """Page p50/p95 by kind, and by window of the rush (the first windows hold the ramp's burst)."""
    out: dict = {"by_kind": {}, "by_window": []}
    for kind in sorted({k for k, _, _ in log}):
        took = [e for k, _, e in log if k == kind]
        out["by_kind"][kind] = {
            "n": len(took),
            "p50_ms": round(1000 * pct(took, 50), 1),
            "p95_ms": round(1000 * pct(took, 95), 1),
            "over_300_ms": sum(e > 0.3 for e in took),
        }
    end = max((t for _, t, _ in log), default=0.0)
    start = 0.0
    while start <= end:
        took = [e for _, t, e in log if start <= t < start + window_s]
        if took:
            out["by_window"].append(
                {
                    "from_s": round(start),
                    "n": len(took),
                    "p50_ms": round(1000 * pct(took, 50), 1),
                    "p95_ms": round(1000 * pct(took, 95), 1),
                    "over_300_ms": sum(e > 0.3 for e in took),
                }
            )
        start += window_s
    return out


def exercise_links(course_list: str) -> dict[str, str]:
    """{slug: the exercise page's URL} as the course list links them."""
    return {slug: url for url, slug in re.findall(r'href="(/courses/[^/"]+/exercises/([^/"]+)/)"', course_list)}


def csrf(html: str) -> str:
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return m.group(1) if m else ""


RATE_WAIT = re.compile(r"Please wait (\d+) second")


LOGIN_SLOTS = threading.BoundedSemaphore(4)


def student(i: int, args, stats: Stats, start_gate: threading.Event, logged_in: threading.Semaphore) -> None:
    rng = random.Random(args.seed * 100003 + i)
    b = Browser(args.host, args.port, stats)
    # Logged in before the rush (at a deadline students already have a session): the login POST's
    # password hash costs ~0.5 s of CPU each, timed apart, a few at a time.
    with LOGIN_SLOTS:
        status, _, html = b.request("GET", "/accounts/login/", page=False)
        status, headers, _ = b.request(
            "POST",
            "/accounts/login/",
            {"username": f"{args.user_prefix}{i:04d}", "password": args.password, "csrfmiddlewaretoken": csrf(html)},
            page="logins",
        )
    logged_in.release()
    if status != 302:
        stats.error("login failed")
        return
    start_gate.wait()
    time.sleep(rng.uniform(0, args.ramp_s))
    _, _, course_list = b.request("GET", "/")
    # The exercises' links as the course list gives them (a student clicks these; the course-less
    # /exercises/<slug>/ is only a redirect to them).
    links = exercise_links(course_list)
    token = ""
    opened: set[str] = set()
    for _ in range(args.submissions):
        slug = rng.choice(args.exercises)
        if slug not in opened:  # the exercise's page, once
            status, headers, html = b.request("GET", links.get(slug, f"/exercises/{slug}/"))
            if status in (301, 302):
                status, _, html = b.request("GET", headers.get("Location", ""))
            token = csrf(html) or token
            opened.add(slug)
        kind, source = mix(rng, args.sources, slug, args.hostile_share, args.loop_share)
        t0 = time.perf_counter()
        for _attempt in range(20):
            status, headers, body = b.request(
                "POST",
                links.get(slug, f"/exercises/{slug}/"),
                {"source": source, "csrfmiddlewaretoken": token},
                page="submits",
                expect=(400,),
            )
            wait = RATE_WAIT.search(body) if status == 400 else None
            if not wait:
                break
            with stats.lock:  # the queue limits (6 a minute): a student waits as told and sends it again
                stats.rate_limited += 1
            time.sleep(int(wait.group(1)) + rng.uniform(0, 1))
        m = re.search(r"/submissions/(\d+)/", headers.get("Location", ""))
        if status != 302 or not m:
            reason = re.search(r'id="form-errors">([^<]{0,80})', body)
            stats.error(f"submit refused ({status}: {reason.group(1).strip() if reason else ''})")
            continue
        sid = int(m.group(1))
        with stats.lock:
            stats.submitted.append(sid)
            stats.kinds[kind.split(":")[0]] = stats.kinds.get(kind.split(":")[0], 0) + 1
            stats.by_exercise[slug] = stats.by_exercise.get(slug, 0) + 1
        status, _, html = b.request("GET", f"/submissions/{sid}/")
        # The page's script (courseapp/static/courseapp/exercise.js): the first wait is the page's
        # data-poll-after, then the server's poll_after_ms; unchanged answers (304) back off x1.5 up
        # to 5 s (or the server's pace when that is slower); a change of state waits the server's pace.
        m = re.search(r'data-poll-after="(\d+)"', html)
        pace = int(m.group(1)) / 1000 if m else 0.5
        etag, delay, state, deadline = None, pace, None, time.monotonic() + args.feedback_timeout_s
        while time.monotonic() < deadline:
            time.sleep(delay)
            hdrs = {"Accept": "application/json", **({"If-None-Match": etag} if etag else {})}
            status, headers, body = b.request("GET", f"/submissions/{sid}/status.json", headers=hdrs, page="polls")
            with stats.lock:
                stats.status_polls += 1
                stats.not_modified += status == 304
            if status == 304:
                delay = min(max(5.0, pace), delay * 1.5)
                continue
            if status != 200:
                delay = min(20.0, delay * 2)
                continue
            etag = headers.get("ETag")
            data = json.loads(body)
            pace = data.get("poll_after_ms", 500) / 1000
            delay = pace if data["state"] != state else max(pace, min(5.0, delay * 1.5))
            state = data["state"]
            if data["finished"]:
                with stats.lock:
                    stats.feedback.append(time.perf_counter() - t0)
                    stats.graded[sid] = data["state"]
                b.request("GET", data["feedback_url"])
                break
        else:
            stats.error("no feedback before the timeout")
        time.sleep(rng.uniform(*args.think_s))


def flooder(args, stats: Stats, start_gate: threading.Event) -> None:
    """One hostile student: --flood submissions of a correct file back to back, never waiting for
    feedback and leaving out the form's double-submit token (a script, not the page)."""
    b = Browser(args.host, args.port, stats)
    start_gate.wait()
    _, _, html = b.request("GET", "/accounts/login/", page=False)
    status, _, _ = b.request(
        "POST",
        "/accounts/login/",
        {
            "username": f"{args.user_prefix}{args.students:04d}",
            "password": args.password,
            "csrfmiddlewaretoken": csrf(html),
        },
        page=False,
    )
    if status != 302:
        stats.error("flooder login failed")
        return
    status, headers, html = b.request("GET", f"/exercises/{args.exercises[0]}/", page=False)
    if status in (301, 302):  # the course-less URL redirects to the course's page
        _, _, html = b.request("GET", headers.get("Location", ""), page=False)
    token = csrf(html)
    slug = args.exercises[0]
    source = (
        args.sources.correct[slug][0][1]
        if args.flood_kind == "correct"
        else args.sources.hostile[slug][args.flood_kind]
    )
    sent = iter(range(args.flood))
    sent_lock = threading.Lock()

    def send_some(browser: Browser) -> None:
        while True:
            with sent_lock:
                if next(sent, None) is None:
                    return
            status, headers, body = browser.request(
                "POST", f"/exercises/{args.exercises[0]}/", {"source": source, "csrfmiddlewaretoken": token}, page=False
            )
            m = re.search(r"/submissions/(\d+)/", headers.get("Location", ""))
            with stats.lock:
                if status == 302 and m:
                    stats.flood_accepted.append(int(m.group(1)))
                else:
                    reason = re.search(r'id="form-errors">([^<]{0,80})', body)
                    key = f"{status}: {reason.group(1).strip() if reason else ''}"
                    stats.flood_refused[key] = stats.flood_refused.get(key, 0) + 1

    # several connections of the same session at once: the flood is queued before the others arrive
    senders = []
    for _ in range(args.flood_connections):
        other = Browser(args.host, args.port, stats)
        other.cookies = dict(b.cookies)
        senders.append(threading.Thread(target=send_some, args=(other,), daemon=True))
    for t in senders:
        t.start()
    for t in senders:
        t.join()


# ---- the capacity baseline: what the same number of workers grade on correct submissions alone ----


def _capacity_worker(slugs: list[str], n: int, start, out, mix_of=None, limits=None, seed=0) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT))
    from grader.engine import Grader
    from grader.exercise import load_exercise
    from grader.sandbox.limits import JobLimits

    sources = Sources(slugs)
    exercises = {slug: load_exercise(ROOT / "exercises" / slug) for slug in slugs}
    job_limits = {slug: JobLimits.from_json(lim) for slug, lim in (limits or {}).items()}
    if mix_of is None:  # correct submissions only, round robin
        work = [("correct", slug, src.encode()) for slug in slugs for _name, src in sources.correct[slug]]
    else:  # the rush's mix (same shares), drawn in advance
        rng = random.Random(seed)
        work = []
        for _ in range(n):
            slug = rng.choice(slugs)
            kind, src = mix(rng, sources, slug, *mix_of)
            work.append((kind.split(":")[0], slug, src.encode()))
    g = Grader(device="cpu", dedicated=True)  # as a Celery worker's
    g.start()
    for slug in slugs:  # warm the trusted side (reference observations) for every exercise
        g.grade(exercises[slug], sources.correct[slug][0][1].encode(), limits=job_limits.get(slug))
    start.wait()
    t = time.perf_counter()
    by_kind: dict[str, list[float]] = {}
    for i in range(n):
        kind, slug, data = work[i % len(work)]
        t1 = time.perf_counter()
        g.grade(exercises[slug], data, limits=job_limits.get(slug))
        by_kind.setdefault(kind, []).append(time.perf_counter() - t1)
    out.put((n, time.perf_counter() - t, by_kind))
    g.close()


def capacity(
    workers: int,
    total: int,
    slugs: list[str],
    mix_of: tuple[float, float] | None = None,
    limits: dict | None = None,
) -> tuple[float, dict[str, dict[str, float]]]:
    """Grades/s of `workers` processes, each a warm Grader, on a queue of correct submissions to the
    rush's exercises (no web, no broker, no database): what the service's graders can do at best.
    mix_of=(hostile_share, loop_share): the rush's mix instead (buggy and hostile ones too), graded with
    `limits` (the revisions' derived limits, as the workers use them). Also: per kind of submission,
    how many and the mean seconds a grade took."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    q = ctx.Queue()
    procs = [
        ctx.Process(
            target=_capacity_worker, args=(slugs, max(1, total // workers), barrier, q, mix_of, limits, 1000 + w)
        )
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    barrier.wait()
    t = time.perf_counter()
    results = [q.get() for _ in procs]
    wall = time.perf_counter() - t
    for p in procs:
        p.join()
    by_kind: dict[str, list[float]] = {}
    for _n, _t, kinds in results:
        for k, v in kinds.items():
            by_kind.setdefault(k, []).extend(v)
    costs = {k: {"n": len(v), "mean_s": round(sum(v) / len(v), 3)} for k, v in sorted(by_kind.items())}
    return sum(n for n, _, _ in results) / wall, costs


def grading_bench_throughput(workers: int, total: int) -> float:
    """bench/grading.py's throughput figure (identity-block, mixed submissions) for the same workers."""
    sys.path.insert(0, str(ROOT / "bench"))
    import grading  # bench/grading.py

    return grading.throughput(workers, total, "cpu")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--submissions", type=int, default=10, help="per student (300 x 10 = the issue's 3,000)")
    ap.add_argument("--workers", type=int, default=2, help="Celery worker processes per worker host (own stack only)")
    ap.add_argument(
        "--worker-hosts",
        type=int,
        default=1,
        help="simulated worker machines: each --workers processes with its own hostname and var/, "
        "one broker and database",
    )
    ap.add_argument("--exercises", default=",".join(EXERCISES), help="comma-separated exercise slugs of the mix")
    ap.add_argument(
        "--capacity",
        type=int,
        default=200,
        help="grades for the capacity baselines (run before the stack starts; 0: skip)",
    )
    ap.add_argument("--url", default="", help="drive an existing deployment instead of starting one")
    ap.add_argument("--user-prefix", default="load")
    ap.add_argument("--password", default="load-pw-" + "x" * 8)
    ap.add_argument("--hostile-share", type=float, default=0.06)
    ap.add_argument("--loop-share", type=float, default=0.02, help="infinite loops (each holds a worker wall_s)")
    ap.add_argument("--ramp-s", type=float, default=10.0)
    ap.add_argument("--window-s", type=float, default=30.0, help="window of the per-window page breakdown")
    ap.add_argument("--think-s", type=float, nargs=2, default=(1.0, 4.0))
    ap.add_argument("--feedback-timeout-s", type=float, default=1800.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--flood", type=int, default=0, help="one more student submits this many times at once")
    ap.add_argument(
        "--flood-kind",
        default="correct",
        choices=["correct", "infinite_loop", "memory_bomb", "sleeper", "syntax_error", "import_os_system"],
        help="what the flood submits (an infinite loop holds a worker for the exercise's wall limit)",
    )
    ap.add_argument("--flood-connections", type=int, default=8, help="the flood's parallel connections")
    ap.add_argument(
        "--nginx",
        action="store_true",
        help="clients reach gunicorn through nginx with deploy/nginx.conf (compose's proxy)",
    )
    ap.add_argument("--web-workers", type=int, default=0, help="gunicorn processes (0: gunicorn.conf.py, cores + 1)")
    ap.add_argument(
        "--web-threads",
        type=int,
        default=0,
        help="threads per gunicorn process (0: gunicorn.conf.py, 1: the sync worker)",
    )
    args = ap.parse_args()
    # `kill` (SIGTERM) stops the private stack too: SystemExit runs the finally below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args.exercises = [e for e in args.exercises.split(",") if e]
    args.sources = Sources(args.exercises)
    total_workers = args.workers * args.worker_hosts
    baseline = {}
    if args.capacity and not args.url:
        print(f"==> capacity baselines: {total_workers} worker processes, {args.capacity} grades", flush=True)
        rate, costs = capacity(total_workers, args.capacity, args.exercises)
        baseline["capacity_correct_mix_grades_per_s"] = round(rate, 2)
        baseline["capacity_correct_mean_s"] = costs.get("correct", {}).get("mean_s")
        baseline["bench_grading_py_grades_per_s"] = round(grading_bench_throughput(total_workers, args.capacity), 2)
        print(json.dumps(baseline), flush=True)
    # 4xx answers to the flooder are the limits working, not errors of the service
    flood_stats = Stats()

    stack = None
    if args.url:
        u = urllib.parse.urlparse(args.url)
        args.host, args.port = u.hostname, u.port or 80
    else:
        print(
            f"==> starting a private stack: Postgres, Redis, gunicorn, {args.worker_hosts} worker host(s) x "
            f"{args.workers} workers, reconciler; exercises {', '.join(args.exercises)}",
            flush=True,
        )
        stack = Stack(
            args.workers,
            args.students + (1 if args.flood else 0),
            args.password,
            args.exercises,
            args.worker_hosts,
            args.web_workers,
            args.web_threads,
            args.nginx,
        )
        args.host, args.port = "127.0.0.1", stack.web_port
        if args.capacity:
            # The rush's own mix (buggy, hostile, loops) with the limits sync derived, the stack idle.
            lims = {slug: {k: v for k, v in lim.items() if k != "toml"} for slug, lim in stack.limits.items()}
            print(
                f"==> capacity on the rush's mix: {total_workers} worker processes, {args.capacity} grades", flush=True
            )
            rate, costs = capacity(
                total_workers, args.capacity, args.exercises, (args.hostile_share, args.loop_share), lims
            )
            baseline["capacity_rush_mix_grades_per_s"] = round(rate, 2)
            baseline["rush_mix_grade_cost_by_kind"] = costs
            print(
                json.dumps({k: baseline[k] for k in ("capacity_rush_mix_grades_per_s", "rush_mix_grade_cost_by_kind")}),
                flush=True,
            )
    try:
        stats = Stats()
        gate = threading.Event()
        logged_in = threading.Semaphore(0)
        threads = [
            threading.Thread(target=student, args=(i, args, stats, gate, logged_in), daemon=True)
            for i in range(args.students)
        ]
        if args.flood:
            threads.insert(0, threading.Thread(target=flooder, args=(args, flood_stats, gate), daemon=True))
        for t in threads:
            t.start()
        t_login = time.perf_counter()
        for _ in range(args.students):
            logged_in.acquire()
        login_s = time.perf_counter() - t_login
        print(
            f"==> {args.students} students logged in ({login_s:.1f} s); the rush: {args.submissions} submissions each",
            flush=True,
        )
        sampler = CpuSampler(stack.roles) if stack else None
        if sampler:
            sampler.start()
        lag = LagProbe()
        lag.start()
        t0 = stats.t0 = time.perf_counter()
        gate.set()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        lag.stop_event.set()
        cpu = sampler.report() if sampler else None
        if sampler and cpu:
            cpu["by_window"] = sampler.by_window(args.window_s)
        if args.flood:  # the flood's accepted jobs finish too (nothing lost), but they are not timed
            deadline = time.monotonic() + args.feedback_timeout_s
            while stack and time.monotonic() < deadline:
                left = stack.db_check(flood_stats.flood_accepted)
                if left["done"] + left["failed"] >= len(flood_stats.flood_accepted):
                    break
                time.sleep(2)
        db = stack.db_check(stats.submitted + flood_stats.flood_accepted) if stack else None
        per_host = stack.grades_per_host() if stack else None
    finally:
        if stack:
            stack.stop()

    accepted = len(stats.submitted) + len(flood_stats.flood_accepted)
    lost = accepted - (db["one_result"] if db else len(stats.graded))
    grades_per_s = len(stats.graded) / wall
    report = {
        "students": args.students,
        "submissions_accepted": accepted,
        "mix": stats.kinds,
        "by_exercise": stats.by_exercise,
        "workers": total_workers,
        "worker_hosts": args.worker_hosts,
        "wall_s": round(wall, 1),
        "page_p50_ms": round(1000 * pct(stats.pages, 50), 1),
        "page_p95_ms": round(1000 * pct(stats.pages, 95), 1),
        "pages": len(stats.pages),
        "page_breakdown": page_breakdown(stats.page_log, args.window_s),
        "status_poll_p50_ms": round(1000 * pct(stats.polls, 50), 1),
        "status_poll_p95_ms": round(1000 * pct(stats.polls, 95), 1),
        "login_phase_s": round(login_s, 1),
        "login_post_p50_ms": round(1000 * pct(stats.logins, 50), 1),
        "login_post_p95_ms": round(1000 * pct(stats.logins, 95), 1),
        "submit_post_p50_ms": round(1000 * pct(stats.submits, 50), 1),
        "submit_post_p95_ms": round(1000 * pct(stats.submits, 95), 1),
        "submit_to_feedback_p50_s": round(pct(stats.feedback, 50), 2),
        "submit_to_feedback_p95_s": round(pct(stats.feedback, 95), 2),
        "grades_per_s": round(grades_per_s, 3),
        **baseline,
        **(
            {"grades_per_s_vs_capacity": round(grades_per_s / baseline["capacity_correct_mix_grades_per_s"], 3)}
            if baseline
            else {}
        ),
        **(
            {"grades_per_s_vs_capacity_rush_mix": round(grades_per_s / baseline["capacity_rush_mix_grades_per_s"], 3)}
            if baseline.get("capacity_rush_mix_grades_per_s")
            else {}
        ),
        "generator_lag_p50_ms": round(1000 * pct(lag.lags, 50), 2),
        "generator_lag_p95_ms": round(1000 * pct(lag.lags, 95), 2),
        "generator_lag_max_ms": round(1000 * max(lag.lags, default=float("nan")), 2),
        "rate_limited_resubmits": stats.rate_limited,
        "grades_per_worker_host": per_host,
        "limits": {slug: {k: v for k, v in lim.items() if k != "toml"} for slug, lim in stack.limits.items()}
        if stack
        else None,
        "sync_s": round(stack.sync_s, 1) if stack else None,
        "cpu_during_rush": cpu,
        "status_polls": stats.status_polls,
        "status_304": stats.not_modified,
        "states": {s: list(stats.graded.values()).count(s) for s in set(stats.graded.values())},
        "errors": stats.errors,
        "db": db,
        "lost_submissions": lost,
    }
    if args.flood:
        report["flood"] = {
            "sent": args.flood,
            "accepted": len(flood_stats.flood_accepted),
            "refused": flood_stats.flood_refused,
            "errors": flood_stats.errors,
        }
    print(json.dumps(report, indent=2))
    return 0 if lost == 0 and (not db or db["more_results"] == 0) else 1


if __name__ == "__main__":
    sys.exit(main())

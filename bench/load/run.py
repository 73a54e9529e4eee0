"""Deadline-rush load scenario: N simulated students log in, open the exercises, submit a
realistic mix (correct, buggy, hostile) and follow their status the way the page does (status.json
with If-None-Match and back-off) until feedback arrives.

By default it brings up its own stack on this machine, like scripts/run.sh but on a PRIVATE
Postgres and Redis (free ports, a temp dir; never the shared ones): gunicorn (2 processes x 4
threads) and W Celery worker processes (concurrency 1 each), on a copy of exercises/identity-block.
With --url it only drives an existing deployment (the users must exist: --password).

    .venv/bin/python bench/load/run.py --students 40 --submissions 3 --workers 2

Flood scenario (issue 12, fair queues): --flood N makes one more student submit N times as fast as
the web answers, over --flood-connections connections (no waiting for feedback, no double-submit
token; --flood-kind infinite_loop holds a worker for the wall limit per job), while the --students others
submit as usual; the report gives the others' submit-to-feedback latency apart, to compare with the
same run without --flood:

    .venv/bin/python bench/load/run.py --students 30 --submissions 1 --workers 2 --hostile-share 0
    .venv/bin/python bench/load/run.py --students 30 --submissions 1 --workers 2 --hostile-share 0 --flood 50

Prints page p50/p95, submit-to-feedback p50/p95, grades per second, errors and lost submissions
(submissions accepted by the web that never got exactly one result: must be 0). Not run in CI.
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
SUBS = ROOT / "tests" / "grader" / "submissions" / "identity-block"
PY = sys.executable

CORRECT = (SUBS / "correct_sequential.py").read_text() if (SUBS / "correct_sequential.py").exists() else ""
HOSTILE = {
    "infinite_loop": "import torch\nfrom torch import nn\n\n\nclass IdentityBlock(nn.Module):\n"
                     "    def __init__(self, channels, kernel_size=3):\n        super().__init__()\n\n"
                     "    def forward(self, x):\n        while True:\n            pass\n",
    "memory_bomb": "import torch\nfrom torch import nn\n\n\nclass IdentityBlock(nn.Module):\n"
                   "    def __init__(self, channels, kernel_size=3):\n        super().__init__()\n"
                   "        self.hog = []\n\n    def forward(self, x):\n        while True:\n"
                   "            self.hog.append(bytearray(64 * 2**20))\n",
    "syntax_error": "class IdentityBlock(:\n    pass\n",
    # holds a worker for the whole wall limit without burning CPU (a long job, like a GPU training run)
    "sleeper": "import time\nimport torch\nfrom torch import nn\n\n\nclass IdentityBlock(nn.Module):\n"
               "    def __init__(self, channels, kernel_size=3):\n        super().__init__()\n\n"
               "    def forward(self, x):\n        time.sleep(3600)\n        return x\n",
    "import_os_system": "import os\nos.system('echo pwned > /tmp/pwned')\nclass IdentityBlock: pass\n",
}


def mix(rng: random.Random, hostile_share: float, loop_share: float) -> tuple[str, str]:
    """(kind, source): ~45% correct, the rest buggy (every known mistake), a few hostile."""
    r = rng.random()
    if r < loop_share:
        return "hostile:infinite_loop", HOSTILE["infinite_loop"]
    if r < hostile_share:
        name = rng.choice(["memory_bomb", "syntax_error", "import_os_system"])
        return f"hostile:{name}", HOSTILE[name]
    if r < hostile_share + 0.45:
        return "correct", CORRECT
    buggy = sorted(p for p in SUBS.glob("*.py") if p.name != "correct_sequential.py")
    path = rng.choice(buggy)
    return f"buggy:{path.stem}", path.read_text()


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


class Stack:
    def __init__(self, workers: int, students: int, password: str):
        self.tmp = Path(tempfile.mkdtemp(prefix="courseapp-load-"))
        os.chmod(self.tmp, 0o755)
        self.procs: list[subprocess.Popen] = []
        self.pg_ctl = None
        try:
            self._start(workers, students, password)
        except BaseException:
            self.stop()
            raise

    def _start(self, workers: int, students: int, password: str) -> None:
        redis_port, pg_port, self.web_port = free_port(), free_port(), free_port()
        self.procs.append(subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, start_new_session=True))
        pgbin = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))[-1]).parent
        pgdir = self.tmp / "pg"
        pgdir.mkdir()
        as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if as_pg:
            shutil.chown(self.tmp, "postgres")
            shutil.chown(pgdir, "postgres")
        subprocess.run([*as_pg, str(pgbin / "initdb"), "-D", str(pgdir / "data"), "-U", "postgres", "--auth=trust",
                        "--no-sync"], check=True, stdout=subprocess.DEVNULL)
        self.pg_ctl = [*as_pg, str(pgbin / "pg_ctl"), "-D", str(pgdir / "data")]
        subprocess.run([*self.pg_ctl, "-o", f"-p {pg_port} -k {pgdir} -c listen_addresses=127.0.0.1 -c fsync=off "
                        "-c max_connections=200", "-w", "-l", str(pgdir / "log"), "start"],
                       check=True, stdout=subprocess.DEVNULL)
        exercises = self.tmp / "exercises"
        exercises.mkdir()
        shutil.copy(ROOT / "exercises" / "misconceptions.toml", exercises)
        shutil.copytree(ROOT / "exercises" / "identity-block", exercises / "identity-block",
                        ignore=shutil.ignore_patterns("__pycache__"))
        self.env = {
            **os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pg_port}/postgres",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "REDIS_KEY_PREFIX": "", "VAR_DIR": str(self.tmp / "var"),
            "EXERCISES_DIR": str(exercises), "DJANGO_SETTINGS_MODULE": "courseapp.settings", "GRADER_DEVICE": "cpu",
            "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING", "DEBUG": "0", "DB_CONN_MAX_AGE": "60",
            "LOGIN_MAX_FAILURES": "1000",
        }
        run = lambda *a: subprocess.run([PY, "manage.py", *a], cwd=ROOT, env=self.env, check=True,  # noqa: E731
                                        stdout=subprocess.DEVNULL)
        run("migrate", "--noinput")
        run("sync_exercises")
        run("shell", "-c", (
            "from django.contrib.auth import get_user_model; from django.contrib.auth.hashers import make_password;"
            "from courseapp.models import Course, Enrolment;"
            "U = get_user_model(); c = Course.objects.get(); h = make_password(%r);"
            "us = U.objects.bulk_create([U(username='load%%04d' %% i, password=h) for i in range(%d)]);"
            "Enrolment.objects.bulk_create([Enrolment(user=u, course=c) for u in U.objects.filter(username__startswith='load')])"
        ) % (password, students))
        logs = self.tmp / "logs"
        logs.mkdir()
        for i in range(workers):
            self.procs.append(subprocess.Popen(
                [PY, "-m", "celery", "-A", "courseapp", "worker", "-Q", "grade.cpu,grade.gpu", "--concurrency", "1",
                 "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle", "--hostname", f"load{i}@%h",
                 "--loglevel", "WARNING"], cwd=ROOT, env=self.env, start_new_session=True,
                stdout=open(logs / f"worker{i}.log", "wb"), stderr=subprocess.STDOUT))
        # the reconciler, as the beat service runs it
        self.procs.append(subprocess.Popen(
            [PY, "manage.py", "reconcile_jobs", "--loop", "30"], cwd=ROOT, env=self.env, start_new_session=True,
            stdout=open(logs / "reconciler.log", "wb"), stderr=subprocess.STDOUT))
        self.procs.append(subprocess.Popen(
            [PY, "-m", "gunicorn", "courseapp.wsgi:application", "--bind", f"127.0.0.1:{self.web_port}",
             "--workers", "2", "--threads", "4", "--backlog", "2048"], cwd=ROOT, env=self.env,
            start_new_session=True, stdout=open(logs / "web.log", "wb"), stderr=subprocess.STDOUT))
        wait_until(lambda: port_open(self.web_port), 60, "gunicorn")
        time.sleep(8)  # workers warm their sandboxes

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
            " 'total_submissions_in_db': GradingJob.objects.count()}))")
        out = subprocess.run([PY, "manage.py", "shell", "-c", code], cwd=ROOT, env=self.env, capture_output=True,
                             text=True, check=True).stdout
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
            subprocess.run([*self.pg_ctl, "-m", "immediate", "-w", "stop"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)


# ---- a simulated student ------------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.pages: list[float] = []
        self.feedback: list[float] = []
        self.status_polls = 0
        self.not_modified = 0
        self.errors: dict[str, int] = {}
        self.submitted: list[int] = []
        self.graded: dict[int, str] = {}
        self.kinds: dict[str, int] = {}
        self.flood_accepted: list[int] = []
        self.flood_refused: dict[str, int] = {}

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] = self.errors.get(what, 0) + 1


class Browser:
    def __init__(self, host: str, port: int, stats: Stats):
        self.host, self.port, self.stats = host, port, stats
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None,
                page: bool = True) -> tuple[int, dict, str]:
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
                self.stats.pages.append(elapsed)
        if resp.status >= 500 or (resp.status >= 400 and resp.status not in (404,)):
            self.stats.error(f"{method} {re.sub(r'[0-9]+', 'N', path)} -> {resp.status}")
        return resp.status, dict(resp.headers), text


def csrf(html: str) -> str:
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return m.group(1) if m else ""


def student(i: int, args, stats: Stats, start_gate: threading.Event) -> None:
    rng = random.Random(args.seed * 100003 + i)
    b = Browser(args.host, args.port, stats)
    start_gate.wait()
    time.sleep(rng.uniform(0, args.ramp_s))
    status, _, html = b.request("GET", "/accounts/login/")
    status, headers, _ = b.request("POST", "/accounts/login/", {
        "username": f"{args.user_prefix}{i:04d}", "password": args.password, "csrfmiddlewaretoken": csrf(html)})
    if status != 302:
        stats.error("login failed")
        return
    b.request("GET", "/")
    status, headers, html = b.request("GET", "/exercises/identity-block/")
    if status in (301, 302):  # the course-less URL redirects to the course's page
        status, _, html = b.request("GET", headers.get("Location", ""))
    for _ in range(args.submissions):
        kind, source = mix(rng, args.hostile_share, args.loop_share)
        t0 = time.perf_counter()
        status, headers, _ = b.request("POST", "/exercises/identity-block/",
                                       {"source": source, "csrfmiddlewaretoken": csrf(html)})
        m = re.search(r"/submissions/(\d+)/", headers.get("Location", ""))
        if status != 302 or not m:
            stats.error(f"submit refused ({status})")
            continue
        sid = int(m.group(1))
        with stats.lock:
            stats.submitted.append(sid)
            stats.kinds[kind.split(":")[0]] = stats.kinds.get(kind.split(":")[0], 0) + 1
        status, _, html = b.request("GET", f"/submissions/{sid}/")
        etag, delay, deadline = None, 0.5, time.monotonic() + args.feedback_timeout_s
        while time.monotonic() < deadline:
            time.sleep(delay)
            hdrs = {"Accept": "application/json", **({"If-None-Match": etag} if etag else {})}
            status, headers, body = b.request("GET", f"/submissions/{sid}/status.json", headers=hdrs, page=False)
            with stats.lock:
                stats.status_polls += 1
                stats.not_modified += status == 304
            if status == 304:
                delay = min(5.0, delay * 1.5)
                continue
            if status != 200:
                delay = min(20.0, delay * 2)
                continue
            etag = headers.get("ETag")
            data = json.loads(body)
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
    status, _, _ = b.request("POST", "/accounts/login/", {
        "username": f"{args.user_prefix}{args.students:04d}", "password": args.password,
        "csrfmiddlewaretoken": csrf(html)}, page=False)
    if status != 302:
        stats.error("flooder login failed")
        return
    _, _, html = b.request("GET", "/exercises/identity-block/", page=False)
    token = csrf(html)
    source = CORRECT if args.flood_kind == "correct" else HOSTILE[args.flood_kind]
    sent = iter(range(args.flood))
    sent_lock = threading.Lock()

    def send_some(browser: Browser) -> None:
        while True:
            with sent_lock:
                if next(sent, None) is None:
                    return
            status, headers, body = browser.request("POST", "/exercises/identity-block/",
                                                    {"source": source, "csrfmiddlewaretoken": token}, page=False)
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


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--submissions", type=int, default=10, help="per student (300 x 10 = the issue's 3,000)")
    ap.add_argument("--workers", type=int, default=2, help="Celery worker processes (own stack only)")
    ap.add_argument("--url", default="", help="drive an existing deployment instead of starting one")
    ap.add_argument("--user-prefix", default="load")
    ap.add_argument("--password", default="load-pw-" + "x" * 8)
    ap.add_argument("--hostile-share", type=float, default=0.06)
    ap.add_argument("--loop-share", type=float, default=0.02, help="infinite loops (each holds a worker wall_s)")
    ap.add_argument("--ramp-s", type=float, default=10.0)
    ap.add_argument("--think-s", type=float, nargs=2, default=(1.0, 4.0))
    ap.add_argument("--feedback-timeout-s", type=float, default=1800.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--flood", type=int, default=0, help="one more student submits this many times at once")
    ap.add_argument("--flood-kind", default="correct", choices=["correct", *HOSTILE],
                    help="what the flood submits (an infinite loop holds a worker for the exercise's wall limit)")
    ap.add_argument("--flood-connections", type=int, default=8, help="the flood's parallel connections")
    args = ap.parse_args()
    # 4xx answers to the flooder are the limits working, not errors of the service
    flood_stats = Stats()

    stack = None
    if args.url:
        u = urllib.parse.urlparse(args.url)
        args.host, args.port = u.hostname, u.port or 80
    else:
        print(f"==> starting a private stack: Postgres, Redis, gunicorn, {args.workers} workers, reconciler", flush=True)
        stack = Stack(args.workers, args.students + (1 if args.flood else 0), args.password)
        args.host, args.port = "127.0.0.1", stack.web_port
    try:
        stats = Stats()
        gate = threading.Event()
        threads = [threading.Thread(target=student, args=(i, args, stats, gate), daemon=True)
                   for i in range(args.students)]
        if args.flood:
            threads.insert(0, threading.Thread(target=flooder, args=(args, flood_stats, gate), daemon=True))
        for t in threads:
            t.start()
        print(f"==> {args.students} students x {args.submissions} submissions", flush=True)
        t0 = time.perf_counter()
        gate.set()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        if args.flood:  # the flood's accepted jobs finish too (nothing lost), but they are not timed
            deadline = time.monotonic() + args.feedback_timeout_s
            while stack and time.monotonic() < deadline:
                left = stack.db_check(flood_stats.flood_accepted)
                if left["done"] + left["failed"] >= len(flood_stats.flood_accepted):
                    break
                time.sleep(2)
        db = stack.db_check(stats.submitted + flood_stats.flood_accepted) if stack else None
    finally:
        if stack:
            stack.stop()

    accepted = len(stats.submitted) + len(flood_stats.flood_accepted)
    lost = accepted - (db["one_result"] if db else len(stats.graded))
    report = {
        "students": args.students, "submissions_accepted": accepted, "mix": stats.kinds,
        "wall_s": round(wall, 1),
        "page_p50_ms": round(1000 * pct(stats.pages, 50), 1), "page_p95_ms": round(1000 * pct(stats.pages, 95), 1),
        "pages": len(stats.pages),
        "submit_to_feedback_p50_s": round(pct(stats.feedback, 50), 2),
        "submit_to_feedback_p95_s": round(pct(stats.feedback, 95), 2),
        "grades_per_s": round(len(stats.graded) / wall, 3),
        "status_polls": stats.status_polls, "status_304": stats.not_modified,
        "states": {s: list(stats.graded.values()).count(s) for s in set(stats.graded.values())},
        "errors": stats.errors, "db": db, "lost_submissions": lost,
    }
    if args.flood:
        report["flood"] = {"sent": args.flood, "accepted": len(flood_stats.flood_accepted),
                           "refused": flood_stats.flood_refused, "errors": flood_stats.errors}
    print(json.dumps(report, indent=2))
    return 0 if lost == 0 and (not db or db["more_results"] == 0) else 1


if __name__ == "__main__":
    sys.exit(main())

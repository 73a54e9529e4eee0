"""Benchmark: how long a job waits in the embedded (filesystem) broker before a worker starts it.

    .venv/bin/python bench/embedded_broker.py [--jobs 20] [--poll 0.02] [--idle-s 5]

Runs the service's embedded defaults exactly as `scripts/run.sh` does (SQLite and kombu's
filesystem broker in a fresh temporary VAR_DIR, no DATABASE_URL / REDIS_URL), starts one real
`celery -A courseapp worker`, then:
  1. one submission at a time on an idle worker (--single of them): queue -> start latency,
  2. --jobs submissions queued at once (one per student): per-job wait and the drain time,
  3. the idle worker's CPU use over --idle-s seconds (the cost of polling the folder).
`--poll` sets EMBEDDED_BROKER_POLL_S (kombu's polling_interval; 1.0 is kombu's default, which is
what the service used before). A script, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children (clock ticks from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--single", type=int, default=10)
    ap.add_argument("--poll", type=float, default=None, help="EMBEDDED_BROKER_POLL_S (default: the setting's)")
    ap.add_argument("--idle-s", type=float, default=5.0)
    ap.add_argument("--exercise", default="identity-block")
    args = ap.parse_args()

    var = Path(tempfile.mkdtemp(prefix="bench-broker-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX")}
    env.update(VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="courseapp.settings", LOG_LEVEL="WARNING")
    if args.poll is not None:
        env["EMBEDDED_BROKER_POLL_S"] = str(args.poll)
    os.environ.clear()
    os.environ.update(env)
    py = sys.executable
    for cmd in (["migrate", "--noinput", "-v", "0"], ["sync_exercises"], ["seed_demo"]):
        subprocess.run([py, "manage.py", *cmd], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)

    worker = subprocess.Popen(
        [
            py,
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
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from courseapp.models import Course, Enrolment, Exercise, GradingJob
        from courseapp.services import submission_create

        course = Course.objects.get(slug=settings.COURSE_SLUG)
        exercise = Exercise.objects.get(course=course, slug=args.exercise)
        source = (ROOT / "exercises" / args.exercise / "solution.py").read_text()
        users = []
        for i in range(args.jobs + args.single + 1):
            user = get_user_model().objects.create_user(f"bench{i}", password="x")
            Enrolment.objects.create(user=user, course=course, role=Enrolment.Role.STUDENT)
            users.append(user)

        def wait_done(sub_ids: list[int], timeout: float = 300.0) -> list[GradingJob]:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                jobs = list(GradingJob.objects.filter(submission_id__in=sub_ids))
                if len(jobs) >= len(sub_ids) and all(j.status in ("done", "failed") for j in jobs):
                    return jobs
                time.sleep(0.01)
            raise SystemExit(f"jobs not finished after {timeout} s: is the worker running?")

        # Warm-up: the worker's first grade starts its sandbox pool.
        wait_done([submission_create(user=users[-1], exercise=exercise, source=source).pk])

        single: list[float] = []
        for user in users[args.jobs : args.jobs + args.single]:
            job = wait_done([submission_create(user=user, exercise=exercise, source=source).pk])[0]
            single.append((job.started_at - job.queued_at).total_seconds() * 1000)
            time.sleep(0.3)  # let the worker go idle again, as between real students

        t0 = time.perf_counter()
        ids = [submission_create(user=u, exercise=exercise, source=source).pk for u in users[: args.jobs]]
        queued_s = time.perf_counter() - t0
        jobs = wait_done(ids)
        drain = max(j.finished_at for j in jobs) - min(j.queued_at for j in jobs)
        waits = [(j.started_at - j.queued_at).total_seconds() * 1000 for j in jobs]
        gaps = sorted(j.started_at for j in jobs)
        ends = sorted(j.finished_at for j in jobs)
        between = [(s - e).total_seconds() * 1000 for s, e in zip(gaps[1:], ends[:-1])]

        time.sleep(1.0)
        c0, t_idle = cpu_seconds(worker.pid), time.monotonic()
        time.sleep(args.idle_s)
        idle_cpu = (cpu_seconds(worker.pid) - c0) / (time.monotonic() - t_idle)

        poll = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("polling_interval", 1.0)
        print(f"embedded broker (filesystem), polling_interval {poll} s, 1 worker, {args.exercise}")
        print(
            f"  idle worker, one job:  queue->start p50 {statistics.median(single):.0f} ms, "
            f"max {max(single):.0f} ms  (n={len(single)})"
        )
        print(
            f"  {args.jobs} jobs at once:      queued in {queued_s:.2f} s, drained in {drain.total_seconds():.2f} s, "
            f"worker idle between jobs p50 {statistics.median(between):.0f} ms / p95 {pct(between, 0.95):.0f} ms"
        )
        print(f"                          queue->start p50 {statistics.median(waits):.0f} ms, max {max(waits):.0f} ms")
        print(f"  idle worker CPU:        {idle_cpu * 100:.1f}% of one core")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Instructor pages at scale: seed 500 students x 20 submissions directly in the database (bulk_create,
no grading; results are real identity-block grader results recorded in courseapp/seed/), then time the
dashboard, the submissions browser, the gradebook and submissions CSV exports and the progress table
with Django's test client. Prints a table. Not run in CI.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/dashboard.py [--students 500] [--per-student 20] [--repeat 3]

It creates its own database (courseapp_bench_<pid>) on that server and drops it at the end (--keep keeps it).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=500)
    ap.add_argument("--per-student", type=int, default=20)
    ap.add_argument("--exercises", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--profile", default="", help="a page label (e.g. dashboard): print its cProfile top 20")
    args = ap.parse_args()

    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    u = urlparse(base)
    if not u.scheme.startswith("postgres"):
        sys.exit("bench/dashboard.py needs a Postgres DATABASE_URL")
    import psycopg

    name = f"courseapp_bench_{os.getpid()}"
    admin_dsn = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = base.rsplit("/", 1)[0] + "/" + name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "courseapp.settings")
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        else:
            print(f"kept database {name}")


def seed(n_students: int, per_student: int, n_exercises: int):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from courseapp.models import (
        Course,
        Enrolment,
        Exercise,
        ExercisePolicy,
        ExerciseRevision,
        GradeOverride,
        GradingJob,
        Result,
        Submission,
    )
    from courseapp.services.seeding import identity_block_samples

    rng = random.Random(7)
    samples = list(identity_block_samples().values())
    User = get_user_model()
    course = Course.objects.create(slug="resnets", title="Why ResNets work")
    prof = User.objects.create(username="prof", password=make_password("x"))
    Enrolment.objects.create(user=prof, course=course, role=Enrolment.Role.INSTRUCTOR)
    exercises = []
    now = timezone.now()
    for i in range(n_exercises):
        ex = Exercise.objects.create(course=course, slug=f"ex-{i}", title=f"Exercise {i}", kind="module", order=i)
        rev = ExerciseRevision.objects.create(
            exercise=ex, content_hash=f"{i:064d}", max_score=10, prompt="p", starter="import torch\n"
        )
        ex.current_revision = rev
        ex.save()
        ExercisePolicy.objects.create(
            exercise=ex, due_at=now - timedelta(days=3), late_until=now + timedelta(days=3), late_credit=0.5
        )
        exercises.append((ex, rev))
    users = User.objects.bulk_create(
        [User(username=f"s{i:04d}", first_name="S", last_name=f"{i:04d}", password="!") for i in range(n_students)]
    )
    Enrolment.objects.bulk_create([Enrolment(user=u, course=course) for u in users])
    t0 = time.perf_counter()
    subs, times = [], []
    for u in users:
        for j in range(per_student):
            ex, rev = exercises[j % n_exercises]
            s = rng.choice(samples)
            subs.append(Submission(user=u, revision=rev, source=s["source"]))
            times.append((now - timedelta(days=rng.uniform(0, 14)), s["result"]))
    subs = Submission.objects.bulk_create(subs, batch_size=2000)
    jobs = GradingJob.objects.bulk_create(
        [
            GradingJob(
                submission=s,
                revision_id=s.revision_id,
                status="done",
                attempts=1,
                queued_at=at,
                started_at=at,
                finished_at=at,
            )
            for s, (at, _) in zip(subs, times)
        ],
        batch_size=2000,
    )
    Result.objects.bulk_create(
        [
            Result(
                job=j,
                score=r["score"],
                max_score=10,
                status=r["status"],
                outcome=r["outcome"],
                output=r.get("output", ""),
                tests=r["tests"],
                misconceptions=r["misconceptions"],
                execution=r.get("execution", {}),
            )
            for j, (_, r) in zip(jobs, times)
        ],
        batch_size=2000,
    )
    # spread the submission times (auto_now_add set them all to now)
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("UPDATE courseapp_submission SET created_at = now() - (random() * interval '14 days')")
    GradeOverride.objects.bulk_create(
        [GradeOverride(submission=s, score=7, reason="bench", created_by=prof) for s in subs[::97]]
    )
    return course, prof, len(subs), time.perf_counter() - t0


def run(args) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    course, prof, n, seed_s = seed(args.students, args.per_student, args.exercises)
    print(
        f"seeded {args.students} students x {args.per_student} submissions = {n} submissions "
        f"over {args.exercises} exercises in {seed_s:.1f} s"
    )
    client = Client()
    client.force_login(prof)
    c = course.slug
    pages = [
        ("dashboard", f"/instructor/{c}/"),
        ("submissions browser", f"/instructor/{c}/submissions/"),
        (
            "submissions, filtered",
            f"/instructor/{c}/submissions/?exercise=ex-1&misconception=shortcut_missing&min_score=1",
        ),
        ("submissions, page 100", f"/instructor/{c}/submissions/?page=100"),
        ("progress table", f"/instructor/{c}/progress/"),
        ("gradebook CSV", f"/instructor/{c}/gradebook.csv?score=final"),
        ("all submissions CSV", f"/instructor/{c}/submissions.csv"),
    ]
    if args.profile:
        import cProfile
        import pstats

        url = dict(pages)[args.profile]
        client.get(url)
        prof_ = cProfile.Profile()
        prof_.enable()
        client.get(url)
        prof_.disable()
        pstats.Stats(prof_).sort_stats("cumulative").print_stats(20)
    print(f"\n{'page':<26} {'median ms':>10} {'min ms':>8} {'queries':>8} {'KiB':>8}")
    for label, url in pages:
        client.get(url)  # warm
        times = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                resp = client.get(url)
                times.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200, (url, resp.status_code)
        print(
            f"{label:<26} {statistics.median(times):>10.0f} {min(times):>8.0f} {len(ctx.captured_queries):>8} "
            f"{len(resp.content) / 1024:>8.0f}"
        )


if __name__ == "__main__":
    main()

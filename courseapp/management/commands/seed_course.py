"""Seed the course with N students and a realistic identity-block history (correct, buggy, late,
copied, overridden), recording real grader results directly (no grading run). For demos, the browser
test and the bench."""

import random
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from courseapp.models import Course, Enrolment, Exercise, ExercisePolicy
from courseapp.services.instructor import grade_override
from courseapp.services.seeding import identity_block_samples, record_result

FIRST = [
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Eva",
    "Femi",
    "Gus",
    "Hana",
    "Ivan",
    "Jia",
    "Kofi",
    "Lena",
    "Mo",
    "Nina",
    "Omar",
    "Pia",
    "Quinn",
    "Ravi",
    "Sara",
    "Tom",
    "Uma",
    "Vik",
    "Wen",
    "Xavi",
    "Yara",
    "Zoe",
]
LAST = [
    "Adams",
    "Brown",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jones",
    "Kim",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
    "Taylor",
    "Ueda",
    "Weber",
    "Young",
]


def renamed(source: str) -> str:
    """A copied-and-disguised version: renamed attributes, a comment, different spacing."""
    out = (
        source.replace("conv1", "first")
        .replace("conv2", "second")
        .replace("bn1", "norm_one")
        .replace("bn2", "norm_two")
        .replace("    ", "  ")
    )
    return "# my solution\n" + out


class Command(BaseCommand):
    help = "Seed the course with --students students and realistic identity-block submissions (results recorded)."

    def add_arguments(self, parser):
        parser.add_argument("--students", type=int, default=40)
        parser.add_argument("--password", default="", help="password for the seeded students (default: unusable)")
        parser.add_argument("--instructor", default="instructor")
        parser.add_argument("--seed", type=int, default=1)

    @transaction.atomic
    def handle(self, *args, **opts):
        rng = random.Random(opts["seed"])
        User = get_user_model()
        course, _ = Course.objects.get_or_create(slug=settings.COURSE_SLUG, defaults={"title": settings.COURSE_TITLE})
        ex = Exercise.objects.filter(course=course, slug="identity-block", current_revision__isnull=False).first()
        if ex is None:
            raise CommandError("identity-block is not synced into the course: run `manage.py sync_exercises` first")
        rev = ex.current_revision
        prof, _ = User.objects.get_or_create(username=opts["instructor"])
        Enrolment.objects.update_or_create(user=prof, course=course, defaults={"role": Enrolment.Role.INSTRUCTOR})
        now = timezone.now()
        due = now - timedelta(days=2)
        ExercisePolicy.objects.get_or_create(
            exercise=ex, defaults={"due_at": due, "late_until": now + timedelta(days=5), "late_credit": 0.5}
        )
        samples = identity_block_samples()
        correct = sorted(n for n, s in samples.items() if s["result"]["score"] >= rev.max_score)
        buggy = sorted(n for n in samples if n not in correct)
        weights = [6 if n in ("no_shortcut", "relu_before_add", "missing_final_relu") else 2 for n in buggy]
        students = []
        for i in range(1, opts["students"] + 1):
            user, _ = User.objects.get_or_create(
                username=f"student{i:03d}",
                defaults={
                    "first_name": FIRST[i % len(FIRST)],
                    "last_name": LAST[(i * 7) % len(LAST)],
                    "email": f"student{i:03d}@example.org",
                },
            )
            if opts["password"]:
                user.set_password(opts["password"])
            else:
                user.set_unusable_password()
            user.save()
            Enrolment.objects.get_or_create(user=user, course=course, defaults={"role": Enrolment.Role.STUDENT})
            students.append(user)
        n_subs = 0
        previous_final = None
        for i, user in enumerate(students):
            if rng.random() < 0.1:
                continue  # has not started
            tries = rng.randint(1, 4)
            late = rng.random() < 0.15
            at = due - timedelta(days=rng.uniform(1, 8)) if not late else due + timedelta(hours=rng.uniform(1, 30))
            ends_correct = rng.random() < 0.65
            for t in range(tries):
                last = t == tries - 1
                if last and ends_correct:
                    sample = samples[rng.choice(correct)]
                else:
                    sample = samples[rng.choices(buggy, weights)[0]]
                source = sample["source"]
                if i % 13 == 5 and last and previous_final:  # a copier: disguises the previous student's code
                    sample = previous_final
                    source = renamed(sample["source"])
                record_result(user=user, revision=rev, source=source, result=sample["result"], at=at)
                if last:
                    previous_final = sample
                n_subs += 1
                at += timedelta(minutes=rng.uniform(3, 90))
        # two overrides with reasons
        overridden = 0
        for user in students[2:40:17]:
            sub = user.submissions.filter(revision=rev).first()
            if sub is not None:
                grade_override(
                    submission=sub,
                    actor=prof,
                    score=min(sub.current_result.score + 2, rev.max_score),
                    reason="partial credit: the idea is right",
                    comment="Close: check where the ReLU goes.",
                )
                overridden += 1
        self.stdout.write(
            f"Seeded {len(students)} students, {n_subs} identity-block submissions, "
            f"{overridden} overrides in {course.title} ({course.slug}); instructor: {prof.username}"
        )

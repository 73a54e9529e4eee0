import json
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from courseapp.models import Course, Enrolment

DEMO_USERS = (("instructor", Enrolment.Role.INSTRUCTOR), ("student", Enrolment.Role.STUDENT))


class Command(BaseCommand):
    help = (
        "Create the demo course with one instructor and one student and print their logins. Idempotent. "
        "Passwords: DEMO_PASSWORD if set, else generated once and kept in var/demo-logins.json (mode 0600)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reset-passwords", action="store_true", help="generate new passwords for the demo users")

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        store = Path(settings.VAR_DIR) / "demo-logins.json"
        try:
            known = json.loads(store.read_text())
        except (FileNotFoundError, ValueError):
            known = {}
        fixed = os.environ.get("DEMO_PASSWORD", "")

        course, _ = Course.objects.get_or_create(slug=settings.COURSE_SLUG, defaults={"title": settings.COURSE_TITLE})
        self.stdout.write(f"Demo course: {course.title} ({course.slug})")
        for username, role in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            password = (
                fixed or ("" if options["reset_passwords"] else known.get(username, "")) or secrets.token_urlsafe(9)
            )
            if not user.check_password(password):
                user.set_password(password)
            user.is_staff = user.is_superuser = role == Enrolment.Role.INSTRUCTOR
            user.save()
            known[username] = password
            Enrolment.objects.update_or_create(user=user, course=course, defaults={"role": role})
            self.stdout.write(f"  {role:<10}  login: {username:<10}  password: {password}")

        store.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(store, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(known, fh)

from django.conf import settings
from django.core.management.base import BaseCommand

from courseapp.services import exercise_sync


class Command(BaseCommand):
    help = (
        "Load every exercise folder into the database (a new revision when its content changed). "
        "Refuses, writing nothing, when a folder is malformed or its reference does not score full marks."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dir", default=None, help=f"exercises folder (default: EXERCISES_DIR, {settings.EXERCISES_DIR})"
        )

    def handle(self, *args, **options):
        for item in exercise_sync(options["dir"]):
            state = "new revision" if item.created else "unchanged"
            self.stdout.write(f"{item.slug}: {state} ({item.content_hash[:12]})")
        self.stdout.write(self.style.SUCCESS("exercises in sync"))

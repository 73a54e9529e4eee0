from django.core.management.base import BaseCommand

from courseapp.review.services import release_due


class Command(BaseCommand):
    help = (
        "Release, as the machine proposed, free-text grades still waiting for review on exercises whose "
        "course chose to release them after the due date (run it periodically, e.g. from cron)."
    )

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(f"released {release_due()} grade(s)")

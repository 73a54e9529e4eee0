import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from courseapp.services.reconcile import reconcile_jobs


class Command(BaseCommand):
    help = (
        "Re-send grading jobs left queued or running past their deadline; fail those out of retries "
        "with a clear message. --loop N repeats every N seconds (a reconciler without Celery beat)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loop", type=float, default=0, help="repeat every N seconds (0: once)")

    def handle(self, *args, **options):
        while True:
            report = reconcile_jobs()
            self.stdout.write(
                f"re-sent running: {len(report.requeued_running)}, re-sent queued: {len(report.resent_queued)}, "
                f"failed: {len(report.failed)}"
            )
            if not options["loop"]:
                return
            close_old_connections()
            time.sleep(options["loop"])

from django.core.management.base import BaseCommand

from courseapp.lti.passback import passback_drain


class Command(BaseCommand):
    help = "Send every due LTI grade passback now (the periodic task does this every LTI_PASSBACK_INTERVAL_S)."

    def handle(self, *args, **options):
        self.stdout.write(str(passback_drain()))

from django.core.management.base import BaseCommand

from courseapp.lti.keys import key_rotate


class Command(BaseCommand):
    help = "Make a new tool signing key. /lti/jwks/ serves it and the previous one (platforms that cached the old set keep verifying)."

    def handle(self, *args, **options):
        key = key_rotate()
        self.stdout.write(f"New signing key: kid {key.kid}")

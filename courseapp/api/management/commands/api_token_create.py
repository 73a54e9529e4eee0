"""python manage.py api_token_create USERNAME [--name NAME]: print a new API token (contracts.md §4)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from courseapp.api.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help="a label shown on the user's token page")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        _, raw = api_token_create(user=user, name=options["name"])
        self.stdout.write(raw)

"""Register an LTI 1.3 platform (contracts.md section 4). The same issuer and client id again
updates the registration and adds the deployment ids given."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import URLValidator
from django.db import transaction

from courseapp.lti.admin import tool_urls
from courseapp.lti.keys import current_key
from courseapp.lti.models import Platform


class Command(BaseCommand):
    help = "Register (or update) an LTI 1.3 platform and print the tool's login, launch and JWKS URLs."

    def add_arguments(self, parser):
        parser.add_argument("--issuer", required=True)
        parser.add_argument("--client-id", required=True)
        parser.add_argument(
            "--deployment-id",
            action="append",
            required=True,
            dest="deployment_ids",
            help="repeat for several deployments",
        )
        parser.add_argument("--auth-login-url", required=True)
        parser.add_argument("--auth-token-url", required=True)
        parser.add_argument("--key-set-url", required=True)
        parser.add_argument("--auth-audience", default=None)
        parser.add_argument("--name", default=None, help="a name for people (optional)")

    @transaction.atomic
    def handle(self, *args, **o):
        check = URLValidator(schemes=["http", "https"])
        for flag in ("issuer", "auth_login_url", "auth_token_url", "key_set_url"):
            try:
                check(o[flag])
            except ValidationError:
                raise CommandError(f"--{flag.replace('_', '-')}: {o[flag]!r} is not an http(s) URL") from None
        deployments = [d for d in (x.strip() for x in o["deployment_ids"]) if d]
        if not deployments:
            raise CommandError("--deployment-id: give at least one non-empty deployment id")
        platform = Platform.objects.select_for_update().filter(issuer=o["issuer"], client_id=o["client_id"]).first()
        created = platform is None
        if created:
            platform = Platform(issuer=o["issuer"], client_id=o["client_id"], deployment_ids=[])
        platform.auth_login_url = o["auth_login_url"]
        platform.auth_token_url = o["auth_token_url"]
        platform.key_set_url = o["key_set_url"]
        if o["auth_audience"] is not None:
            platform.auth_audience = o["auth_audience"]
        if o["name"] is not None:
            platform.name = o["name"]
        platform.deployment_ids = list(dict.fromkeys([*platform.deployment_ids, *deployments]))
        platform.is_active = True
        platform.save()
        current_key()  # the JWKS has a key to serve from the first request on
        verb = "Registered" if created else "Updated"
        self.stdout.write(
            f"{verb} platform {platform.issuer} (client id {platform.client_id}); "
            f"deployment ids: {', '.join(platform.deployment_ids)}"
        )
        for label, url in tool_urls().items():
            self.stdout.write(f"  {label}: {url}")

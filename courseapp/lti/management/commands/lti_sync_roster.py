from django.core.management.base import BaseCommand, CommandError

from courseapp.lti.models import LtiContext
from courseapp.lti.roster import RosterUnavailable, roster_sync


class Command(BaseCommand):
    help = "Sync rosters from the platforms (LTI Names and Role Provisioning): every LTI course, or the ones named."

    def add_arguments(self, parser):
        parser.add_argument("courses", nargs="*", help="course slugs (default: every course that came from LTI)")

    def handle(self, *args, **options):
        contexts = LtiContext.objects.select_related("platform", "course")
        if options["courses"]:
            contexts = contexts.filter(course__slug__in=options["courses"])
            missing = set(options["courses"]) - set(contexts.values_list("course__slug", flat=True))
            if missing:
                raise CommandError(f"not LTI courses: {', '.join(sorted(missing))}")
        failed = 0
        for context in contexts:
            try:
                counts = roster_sync(context)
            except RosterUnavailable as exc:
                self.stdout.write(f"{context.course.slug}: skipped: {exc}")
            except Exception as exc:  # noqa: BLE001 - one platform down does not stop the others
                failed += 1
                self.stderr.write(f"{context.course.slug}: failed: {type(exc).__name__}: {exc}")
            else:
                self.stdout.write(f"{context.course.slug}: {counts}")
        if failed:
            raise CommandError(f"{failed} course(s) could not be synced")

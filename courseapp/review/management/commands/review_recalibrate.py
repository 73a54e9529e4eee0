from django.core.management.base import BaseCommand, CommandError

from courseapp.models import Exercise
from courseapp.review.services import MIN_LABELS_TO_RECALIBRATE, recalibrate
from courseapp.services.grader_runtime import revision_folder


class Command(BaseCommand):
    help = (
        "Recompute a free-text exercise's confidence threshold from the teacher's labels of its current "
        f"revision (at least {MIN_LABELS_TO_RECALIBRATE}; leave-one-out, the exercise's target precision)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args: object, **options: object) -> None:
        from grader.exercise import load_exercise

        exercise = (
            Exercise.objects.filter(slug=options["slug"], kind="freetext").select_related("current_revision").first()
        )
        if exercise is None or exercise.current_revision is None:
            raise CommandError(f"no free-text exercise '{options['slug']}' with a revision")
        threshold = recalibrate(
            exercise, load_exercise(revision_folder(exercise.current_revision)), trigger="review_recalibrate command"
        )
        if threshold is None:
            self.stdout.write(f"fewer than {MIN_LABELS_TO_RECALIBRATE} teacher labels: threshold unchanged")
        else:
            self.stdout.write(f"confidence threshold of {exercise.slug}: {threshold:.4f}")

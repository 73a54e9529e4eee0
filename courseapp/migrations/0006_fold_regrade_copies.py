"""Fold every regrade copy back into its original submission.

Before, a regrade copied the submission (same student and source, the new revision) and graded the
copy; a RegradeItem linked original and copy. Now a regrade is one more GradingJob on the original.
For each RegradeItem: the copy's job (and so its Result) moves to the original, with the copy's
revision as the revision it grades against and the item's regrade; overrides made on the copy move
to the original; then the item and the copy go. No Result, override or audit entry is deleted. Audit
entries that name a copy's id keep their text; one audit entry per course records which copy became
which original, so those ids stay traceable.
"""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def fold(apps, schema_editor):
    GradingJob = apps.get_model("courseapp", "GradingJob")
    RegradeItem = apps.get_model("courseapp", "RegradeItem")
    GradeOverride = apps.get_model("courseapp", "GradeOverride")
    Submission = apps.get_model("courseapp", "Submission")
    AuditEntry = apps.get_model("courseapp", "AuditEntry")

    # Every job so far graded its own submission's revision and was created with it (a copy was
    # created by its regrade, so its job keeps the regrade's time).
    own = Submission.objects.filter(pk=OuterRef("submission_id"))
    GradingJob.objects.filter(revision__isnull=True).update(
        revision_id=Subquery(own.values("revision_id")[:1]), created_at=Subquery(own.values("created_at")[:1])
    )
    folded: dict[int, dict[str, int]] = {}  # course id -> {copy id: original id}
    items = RegradeItem.objects.select_related("new__revision__exercise").order_by("id")
    for item in items:
        copy = item.new
        GradingJob.objects.filter(submission_id=copy.pk).update(
            submission_id=item.original_id, revision_id=copy.revision_id, regrade_id=item.regrade_id
        )
        GradeOverride.objects.filter(submission_id=copy.pk).update(submission_id=item.original_id)
        folded.setdefault(copy.revision.exercise.course_id, {})[str(copy.pk)] = item.original_id
    copy_ids = list(items.values_list("new_id", flat=True))
    RegradeItem.objects.all().delete()
    Submission.objects.filter(pk__in=copy_ids).delete()
    for course_id, mapping in folded.items():
        AuditEntry.objects.create(
            course_id=course_id,
            actor=None,
            action="migration",
            target="regrade copies folded into originals",
            after={"copy_to_original": mapping},
            reason="A regrade is now a new grading job on the same submission; copies no longer exist.",
        )


def unfold(apps, schema_editor):
    """Back to copies: each regrade job gets a copy of its submission again (overrides stay on the
    original: which of them were made on a copy is not kept)."""
    GradingJob = apps.get_model("courseapp", "GradingJob")
    RegradeItem = apps.get_model("courseapp", "RegradeItem")
    Submission = apps.get_model("courseapp", "Submission")
    for job in GradingJob.objects.filter(regrade__isnull=False).select_related("submission").order_by("id"):
        original = job.submission
        copy = Submission.objects.create(user_id=original.user_id, revision_id=job.revision_id, source=original.source)
        Submission.objects.filter(pk=copy.pk).update(created_at=job.created_at)
        GradingJob.objects.filter(pk=job.pk).update(submission_id=copy.pk, regrade_id=None)
        RegradeItem.objects.create(regrade_id=job.regrade_id, original_id=original.pk, new_id=copy.pk)


class Migration(migrations.Migration):
    dependencies = [
        ("courseapp", "0005_job_revision_regrade_many_jobs"),
    ]

    operations = [migrations.RunPython(fold, unfold)]

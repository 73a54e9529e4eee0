"""Migration 0006 folds the old regrade copies into their originals: every result, override and audit
entry survives, and the newest result counts."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("courseapp", "0004_instructor_policies_overrides_regrades")]
AFTER = [("courseapp", "0007_job_revision_required_drop_regradeitem")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_regrade_copies_fold_into_their_originals():
    old = _migrate(BEFORE)
    try:
        User = old.get_model("auth", "User")
        Course, Exercise, Revision = (old.get_model("courseapp", m) for m in ("Course", "Exercise", "ExerciseRevision"))
        Submission, Job, Result = (old.get_model("courseapp", m) for m in ("Submission", "GradingJob", "Result"))
        Regrade, Item = old.get_model("courseapp", "Regrade"), old.get_model("courseapp", "RegradeItem")
        Override, Audit = old.get_model("courseapp", "GradeOverride"), old.get_model("courseapp", "AuditEntry")
        ada, prof = User.objects.create(username="ada"), User.objects.create(username="prof")
        course = Course.objects.create(slug="c", title="C")
        ex = Exercise.objects.create(course=course, slug="e", title="E", kind="module")
        r1 = Revision.objects.create(exercise=ex, content_hash="1" * 64, max_score=10, prompt="p")
        r2 = Revision.objects.create(exercise=ex, content_hash="2" * 64, max_score=10, prompt="p")
        original = Submission.objects.create(user=ada, revision=r1, source="x = 1\n")
        untouched = Submission.objects.create(user=ada, revision=r1, source="x = 2\n")
        copy = Submission.objects.create(user=ada, revision=r2, source="x = 1\n")
        j1 = Job.objects.create(submission=original, status="done")
        j0 = Job.objects.create(submission=untouched, status="done")
        j2 = Job.objects.create(submission=copy, status="done")
        res = [
            Result.objects.create(job=j, score=s, max_score=10, status="graded", outcome="wrong")
            for j, s in ((j1, 2), (j0, 3), (j2, 8))
        ]
        regrade = Regrade.objects.create(exercise=ex, revision=r2, created_by=prof)
        Item.objects.create(regrade=regrade, original=original, new=copy)
        Override.objects.create(submission=copy, score=9, reason="r", created_by=prof)
        Audit.objects.create(course=course, actor=prof, action="override", target=f"submission {copy.pk}")

        new = _migrate(AFTER)
        Submission, Job = new.get_model("courseapp", "Submission"), new.get_model("courseapp", "GradingJob")
        Result, Override = new.get_model("courseapp", "Result"), new.get_model("courseapp", "GradeOverride")
        Audit = new.get_model("courseapp", "AuditEntry")
        assert set(Submission.objects.values_list("id", flat=True)) == {original.pk, untouched.pk}
        jobs = {j.pk: j for j in Job.objects.all()}
        assert (jobs[j1.pk].submission_id, jobs[j1.pk].revision_id, jobs[j1.pk].regrade_id) == (
            original.pk,
            r1.pk,
            None,
        )
        assert (jobs[j2.pk].submission_id, jobs[j2.pk].revision_id, jobs[j2.pk].regrade_id) == (
            original.pk,
            r2.pk,
            regrade.pk,
        )
        assert (jobs[j0.pk].submission_id, jobs[j0.pk].revision_id) == (untouched.pk, r1.pk)
        assert set(Result.objects.values_list("id", "job_id", "score")) == {(r.pk, r.job_id, r.score) for r in res}
        assert list(Override.objects.values_list("submission_id", "score")) == [(original.pk, 9)]
        assert Audit.objects.filter(action="override", target=f"submission {copy.pk}").exists()
        fold = Audit.objects.get(action="migration")
        assert fold.after == {"copy_to_original": {str(copy.pk): original.pk}}
        newest = Result.objects.filter(job__submission_id=original.pk).order_by("-job_id").first()
        assert newest.score == 8  # the regrade's result counts
    finally:  # back to the newest state of every app (later migrations included), for the next tests
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

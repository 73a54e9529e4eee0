"""Regrade: grade submissions again against an exercise's current revision, as new jobs.

Submissions stay immutable: each regraded submission gets a copy (same student, same source, the new
revision) with a job of its own, linked by a RegradeItem; the old result is kept. The gradebook
counts a regraded submission through its newest copy, at the original's submission time.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery

from courseapp.models import AuditEntry, GradingJob, Regrade, RegradeItem, Submission
from courseapp.services.submissions import grading_job_enqueue


@transaction.atomic
def regrade_start(*, exercise, actor, scope: str = Regrade.Scope.LATEST) -> Regrade:
    revision = exercise.current_revision
    if revision is None:
        raise ValidationError("The exercise has no revision to regrade against.")
    if scope not in Regrade.Scope.values:
        raise ValidationError(f"unknown scope {scope!r}")
    originals = Submission.objects.filter(revision__exercise=exercise, regrade_item__isnull=True)
    if scope == Regrade.Scope.LATEST:
        newest = (Submission.objects.filter(revision__exercise=exercise, regrade_item__isnull=True,
                                            user=OuterRef("user")).order_by("-created_at", "-id").values("id")[:1])
        originals = originals.filter(id=Subquery(newest))
    # Nothing to do for a submission made against this revision, or already regraded against it.
    originals = (originals.exclude(revision=revision).exclude(regraded_as__new__revision=revision)
                 .order_by("user_id", "created_at"))
    regrade = Regrade.objects.create(exercise=exercise, revision=revision, scope=scope, created_by=actor)
    queue = settings.GRADING_QUEUES.get(exercise.queue, settings.CELERY_TASK_DEFAULT_QUEUE)
    originals = list(originals.only("id", "user_id", "source"))
    copies = Submission.objects.bulk_create(
        [Submission(user_id=o.user_id, revision=revision, source=o.source) for o in originals])
    jobs = GradingJob.objects.bulk_create([GradingJob(submission=c, queue=queue) for c in copies])
    RegradeItem.objects.bulk_create([RegradeItem(regrade=regrade, original=o, new=c) for o, c in zip(originals, copies)])
    for job, copy in zip(jobs, copies):
        job.submission = copy
        copy.revision = revision
        grading_job_enqueue(job)
    AuditEntry.objects.create(course_id=exercise.course_id, actor=actor, action="regrade", target=exercise.slug,
                              after={"regrade": regrade.pk, "revision": revision.content_hash[:12],
                                     "scope": scope, "submissions": len(copies)})
    return regrade


@dataclass
class ReportRow:
    item_id: int
    username: str
    original_id: int
    new_id: int
    old: float | None
    new: float | None
    state: str  # pending | done | failed
    changed: list[tuple[str, str, str]]  # (check, old status, new status)

    @property
    def direction(self) -> str:
        if self.state != "done" or self.old is None or self.new is None:
            return "pending" if self.state != "done" else "unchanged"
        if self.new > self.old + 1e-9:
            return "up"
        if self.new < self.old - 1e-9:
            return "down"
        return "unchanged"


def _check_status(result) -> dict[str, str]:
    return {t.get("name", ""): t.get("status", "") for t in (result.tests if result else [])}


def regrade_report(regrade: Regrade) -> dict:
    """Progress and the per-student comparison (1 query)."""
    items = (RegradeItem.objects.filter(regrade=regrade)
             .select_related("original__user", "original__job__result", "new__job__result")
             .order_by("original__user__username", "original_id"))
    rows = []
    for it in items:
        old_r = getattr(it.original.job, "result", None)
        new_job = it.new.job
        new_r = getattr(new_job, "result", None) if new_job.is_finished else None
        state = "done" if new_job.status == GradingJob.Status.DONE else (
            "failed" if new_job.status == GradingJob.Status.FAILED else "pending")
        old_c, new_c = _check_status(old_r), _check_status(new_r)
        changed = [(name, old_c.get(name, "—"), new_c.get(name, "—"))
                   for name in dict.fromkeys([*old_c, *new_c]) if old_c.get(name) != new_c.get(name)] if new_r else []
        rows.append(ReportRow(item_id=it.pk, username=it.original.user.get_username(), original_id=it.original_id,
                              new_id=it.new_id, old=old_r.score if old_r else None,
                              new=new_r.score if new_r else None, state=state, changed=changed))
    counts = {"up": 0, "down": 0, "unchanged": 0, "pending": 0}
    for r in rows:
        counts[r.direction] += 1
    done = sum(1 for r in rows if r.state != "pending")
    return {"rows": rows, "counts": counts, "total": len(rows), "finished": done,
            "percent": round(100 * done / len(rows)) if rows else 100, "failed": sum(r.state == "failed" for r in rows)}

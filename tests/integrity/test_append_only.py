"""Append-only rows (issue 12): Results, grade overrides and audit entries are never deleted or
changed, whether through a model, a queryset, a cascade or the admin; admin edits are audited."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse

from courseapp import services
from courseapp.models import AuditEntry, Course, ExercisePolicy, GradeOverride, ImmutableRowError, Result, Submission
from courseapp.services import instructor
from tests.conftest import StandInGrader


@pytest.fixture
def graded(world, enqueued):
    """A graded submission with an override (so an audit entry exists too)."""
    sub = services.submission_create(user=world.alice, exercise=world.code, source="return x + x")
    services.grading_job_run(sub.latest_job.pk, grader=StandInGrader())
    staff = get_user_model().objects.create_superuser("root", password="pw-root-123")
    instructor.grade_override(submission=sub, actor=staff, score=5, reason="partial credit")
    return sub, staff


@pytest.mark.parametrize("model", [Result, GradeOverride, AuditEntry])
def test_rows_cannot_be_deleted_one_by_one_or_in_bulk(graded, model):
    row = model.objects.first()
    assert row is not None
    # each attempt in its own savepoint: a refused delete aborts the statement's transaction
    with pytest.raises(ImmutableRowError), transaction.atomic():
        row.delete()
    with pytest.raises(ImmutableRowError), transaction.atomic():
        model.objects.all().delete()
    with pytest.raises(ImmutableRowError), transaction.atomic():
        model.objects.filter(pk=row.pk).update(created_at=row.created_at)
    assert model.objects.filter(pk=row.pk).exists()


def test_a_cascade_cannot_take_the_audit_trail_with_it(db):
    course = Course.objects.create(slug="short-lived", title="No submissions, one audit entry")
    AuditEntry.objects.create(course=course, action="policy", target="x")
    with pytest.raises(ImmutableRowError), transaction.atomic():
        course.delete()
    assert AuditEntry.objects.filter(course=course).exists()


@pytest.mark.parametrize("model", ["result", "gradeoverride", "auditentry", "submission", "course"])
def test_the_admin_offers_no_delete(client, graded, model):
    sub, staff = graded
    client.force_login(staff)
    cls = {
        "result": Result,
        "gradeoverride": GradeOverride,
        "auditentry": AuditEntry,
        "submission": Submission,
        "course": Course,
    }[model]
    pk = cls.objects.first().pk
    assert client.get(reverse(f"admin:courseapp_{model}_delete", args=[pk])).status_code == 403
    changelist = client.get(reverse(f"admin:courseapp_{model}_changelist")).content.decode()
    assert "delete_selected" not in changelist
    response = client.post(
        reverse(f"admin:courseapp_{model}_changelist"),
        {"action": "delete_selected", "_selected_action": [pk], "post": "yes"},
    )
    assert response.status_code in (200, 302, 403)
    assert cls.objects.filter(pk=pk).exists()


def test_admin_edits_write_audit_entries(client, graded, world):
    _, staff = graded
    client.force_login(staff)
    before = AuditEntry.objects.count()
    url = reverse("admin:courseapp_exercisepolicy_add")
    response = client.post(
        url,
        {
            "exercise": world.code.pk,
            "late_credit": "0.5",
            "min_seconds_between": "30",
            "reveal_hidden": "never",
            "max_attempts": "3",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = ExercisePolicy.objects.get(exercise=world.code)
    added = AuditEntry.objects.order_by("-id").first()
    assert AuditEntry.objects.count() == before + 1
    assert added.actor == staff and added.action == "admin:add" and added.course == world.course
    assert added.after["max_attempts"] == 3

    url = reverse("admin:courseapp_exercisepolicy_change", args=[policy.pk])
    response = client.post(
        url,
        {
            "exercise": world.code.pk,
            "late_credit": "0.5",
            "min_seconds_between": "30",
            "reveal_hidden": "never",
            "max_attempts": "5",
        },
    )
    assert response.status_code == 302
    changed = AuditEntry.objects.order_by("-id").first()
    assert changed.action == "admin:change" and changed.before == {"max_attempts": 3}
    assert changed.after == {"max_attempts": 5}

    url = reverse("admin:courseapp_exercisepolicy_delete", args=[policy.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    deleted = AuditEntry.objects.order_by("-id").first()
    assert deleted.action == "admin:delete" and deleted.before["max_attempts"] == 5

"""The Django admin. Rows the services write once (submissions, jobs, results, overrides, the audit
trail, regrades) are read-only and never deleted here; every add, change or delete of the editable
rows writes an AuditEntry (who, what, the fields before and after)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.contrib import admin
from django.db import models

from courseapp.models import (
    AuditEntry,
    Course,
    Enrolment,
    Exercise,
    ExercisePolicy,
    ExerciseRevision,
    Extension,
    GradeOverride,
    GradingJob,
    Regrade,
    Result,
    Submission,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written once by the services: viewable, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _value(value):
    """A field's value as the audit entry's JSON keeps it."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _fields(obj, names=None) -> dict:
    return {
        f.name: _value(getattr(obj, f.attname if f.is_relation else f.name))
        for f in obj._meta.concrete_fields
        if not f.primary_key and (names is None or f.name in names)
    }


class AuditedAdmin(admin.ModelAdmin):
    """An editable model whose admin edits go to the course's audit trail. `course_of(obj)` says
    which course a row belongs to."""

    def course_of(self, obj) -> Course:
        raise NotImplementedError

    def _audit(self, request, obj, action: str, before: dict, after: dict) -> None:
        AuditEntry.objects.create(
            course=self.course_of(obj),
            actor=request.user,
            action=f"admin:{action}",
            target=f"{obj._meta.verbose_name} {obj.pk}: {obj}"[:200],
            before=before,
            after=after,
        )

    def save_model(self, request, obj, form, change):
        changed = set(form.changed_data) if change else None
        before = _fields(type(obj).objects.get(pk=obj.pk), changed) if change else {}
        super().save_model(request, obj, form, change)
        self._audit(request, obj, "change" if change else "add", before, _fields(obj, changed))

    def delete_model(self, request, obj):
        self._audit(request, obj, "delete", _fields(obj), {})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "delete", _fields(obj), {})
        super().delete_queryset(request, queryset)


@admin.register(Course)
class CourseAdmin(AuditedAdmin):
    list_display = ("slug", "title", "created_at")

    def course_of(self, obj):
        return obj

    def has_delete_permission(self, request, obj=None):
        return False  # a course's submissions and audit trail stay


@admin.register(Enrolment)
class EnrolmentAdmin(AuditedAdmin):
    list_display = ("user", "course", "role", "created_at")
    list_filter = ("course", "role")
    search_fields = ("user__username",)

    def course_of(self, obj):
        return obj.course


@admin.register(Exercise)
class ExerciseAdmin(AuditedAdmin):
    list_display = ("slug", "title", "course", "kind", "queue", "order", "current_revision")
    list_filter = ("course", "kind", "queue")
    readonly_fields = ("current_revision",)

    def course_of(self, obj):
        return obj.course


@admin.register(ExerciseRevision)
class ExerciseRevisionAdmin(ReadOnlyAdmin):
    list_display = ("exercise", "content_hash", "max_score", "created_at")
    list_filter = ("exercise",)


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "revision", "created_at")
    list_filter = ("revision__exercise",)
    search_fields = ("user__username",)
    list_select_related = ("user", "revision__exercise")


@admin.register(GradingJob)
class GradingJobAdmin(ReadOnlyAdmin):
    list_display = ("id", "submission", "status", "attempts", "queue", "queued_at", "started_at", "finished_at")
    list_filter = ("status", "queue")
    list_select_related = ("submission__user",)


@admin.register(Result)
class ResultAdmin(ReadOnlyAdmin):
    list_display = ("id", "job", "score", "max_score", "status", "outcome", "created_at")
    list_filter = ("status", "outcome")


@admin.register(ExercisePolicy)
class ExercisePolicyAdmin(AuditedAdmin):
    list_display = (
        "exercise",
        "opens_at",
        "due_at",
        "late_until",
        "late_credit",
        "max_attempts",
        "min_seconds_between",
        "reveal_hidden",
    )

    def course_of(self, obj):
        return obj.exercise.course


@admin.register(Extension)
class ExtensionAdmin(AuditedAdmin):
    list_display = ("exercise", "user", "due_at", "late_until", "created_by")
    list_select_related = ("exercise", "user", "created_by")

    def course_of(self, obj):
        return obj.exercise.course


@admin.register(GradeOverride)
class GradeOverrideAdmin(ReadOnlyAdmin):
    list_display = ("submission", "score", "reason", "created_by", "created_at")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "course", "actor", "action", "target", "reason")
    list_filter = ("action",)


@admin.register(Regrade)
class RegradeAdmin(ReadOnlyAdmin):
    list_display = ("id", "exercise", "revision", "scope", "created_by", "created_at")

from django.contrib import admin

from courseapp.models import (AuditEntry, Course, Enrolment, Exercise, ExercisePolicy, ExerciseRevision, Extension,
                              GradeOverride, GradingJob, Regrade, Result, Submission)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written once by the services: viewable, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "created_at")


@admin.register(Enrolment)
class EnrolmentAdmin(admin.ModelAdmin):
    list_display = ("user", "course", "role", "created_at")
    list_filter = ("course", "role")
    search_fields = ("user__username",)


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "course", "kind", "queue", "order", "current_revision")
    list_filter = ("course", "kind", "queue")
    readonly_fields = ("current_revision",)


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
class ExercisePolicyAdmin(admin.ModelAdmin):
    list_display = ("exercise", "opens_at", "due_at", "late_until", "late_credit", "max_attempts",
                    "min_seconds_between", "reveal_hidden")


@admin.register(Extension)
class ExtensionAdmin(admin.ModelAdmin):
    list_display = ("exercise", "user", "due_at", "late_until", "created_by")
    list_select_related = ("exercise", "user", "created_by")


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

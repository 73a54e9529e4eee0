"""Request and response shapes of the API (they also make the OpenAPI schema)."""

from __future__ import annotations

from rest_framework import serializers


class ExerciseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.CharField()
    course = serializers.CharField(help_text="the course's slug")
    max_score = serializers.FloatField()
    interface = serializers.ListField(child=serializers.CharField(), help_text="class or function names to define")
    submit_url = serializers.CharField()


class CourseSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    role = serializers.CharField()
    exercises = ExerciseSerializer(many=True)


class SubmitSerializer(serializers.Serializer):
    source = serializers.CharField(
        required=False,
        trim_whitespace=False,
        allow_blank=True,
        help_text="the source text (or a notebook's JSON when filename ends in .ipynb)",
    )
    filename = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="e.g. block.py or work.ipynb"
    )
    file = serializers.FileField(required=False, help_text="a .py file or a .ipynb notebook (multipart)")


class CheckSerializer(serializers.Serializer):
    name = serializers.CharField()
    score = serializers.FloatField()
    max_score = serializers.FloatField()
    status = serializers.ChoiceField(choices=["passed", "failed"])
    output = serializers.CharField(allow_blank=True)
    visibility = serializers.CharField()
    misconceptions = serializers.ListField(child=serializers.CharField(), required=False)


class ResultSerializer(serializers.Serializer):
    """contracts.md §2: what `python -m grader grade --json` prints."""

    score = serializers.FloatField()
    max_score = serializers.FloatField()
    status = serializers.ChoiceField(choices=["graded", "error", "rejected"])
    output = serializers.CharField(allow_blank=True)
    tests = CheckSerializer(many=True)
    misconceptions = serializers.ListField(child=serializers.CharField())
    execution = serializers.DictField()
    confidence = serializers.FloatField(required=False)
    provisional = serializers.BooleanField(required=False)


class ExerciseRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    course = serializers.CharField()


class OverrideSerializer(serializers.Serializer):
    score = serializers.FloatField()
    comment = serializers.CharField(allow_blank=True)


class SubmissionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    exercise = ExerciseRefSerializer()
    user = serializers.CharField()
    created_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=["queued", "delayed", "running", "graded", "failed"])
    finished = serializers.BooleanField()
    attempts = serializers.IntegerField()
    progress = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True)
    graded_cells = serializers.CharField(allow_blank=True, help_text="for a notebook: which cells were graded")
    result = ResultSerializer(allow_null=True)
    override = OverrideSerializer(allow_null=True)


class SubmissionRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.CharField()
    exercise = serializers.CharField()
    created_at = serializers.DateTimeField()
    state = serializers.CharField()
    score = serializers.FloatField(allow_null=True)
    max_score = serializers.FloatField(allow_null=True)
    override = serializers.FloatField(allow_null=True)


class SubmissionPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = SubmissionRowSerializer(many=True)


class GradeCellSerializer(serializers.Serializer):
    best = serializers.FloatField(allow_null=True)
    latest = serializers.FloatField(allow_null=True)
    final = serializers.FloatField(allow_null=True)
    attempts = serializers.IntegerField()
    late = serializers.BooleanField()
    overridden = serializers.BooleanField()


class GradeRowSerializer(serializers.Serializer):
    username = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    grades = serializers.DictField(child=GradeCellSerializer(allow_null=True), help_text="by exercise slug")


class GradesSerializer(serializers.Serializer):
    course = serializers.CharField()
    exercises = serializers.ListField(child=serializers.DictField())
    students = GradeRowSerializer(many=True)


class RegradeRequestSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["latest", "all"], default="latest")


class RegradeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    exercise = serializers.CharField()
    scope = serializers.CharField()
    revision = serializers.CharField()
    submissions = serializers.ListField(
        child=serializers.IntegerField(), help_text="the regraded submissions' ids (each graded again, no copy)"
    )


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()

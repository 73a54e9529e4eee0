"""The JSON API (/api/v1/): an HTTP edge over courseapp's selectors and services, nothing more.

Every submission goes through courseapp.services.submission_create (via api_submission_create, which
adds idempotency keys), the same function the exercise page calls.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from courseapp import selectors, selectors_instructor
from courseapp.api import selectors as api_selectors
from courseapp.api import serializers as s
from courseapp.api.services import IdempotencyConflict, api_submission_create
from courseapp.api.throttling import ApiReadThrottle, ApiSubmitThrottle
from courseapp.models import Exercise, Regrade
from courseapp import selectors_gradebook as gradebook
from courseapp.services import regrade
from courseapp.services.uploads import (
    exercise_interface,
    read_upload,
    source_from_upload,
)

ERROR = OpenApiResponse(s.ErrorSerializer)


def _exercise_json(request: Request, exercise: Exercise) -> dict:
    return {
        "id": exercise.pk,
        "slug": exercise.slug,
        "title": exercise.title,
        "kind": exercise.kind,
        "course": exercise.course.slug,
        "max_score": exercise.current_revision.max_score if exercise.current_revision else None,
        "interface": exercise_interface(exercise),
        "submit_url": request.build_absolute_uri(reverse("api:exercise-submit", args=[exercise.pk])),
    }


class ApiView(APIView):
    throttle_classes = [ApiReadThrottle]


class CourseList(ApiView):
    @extend_schema(summary="Your courses and their exercises", responses=s.CourseSerializer(many=True))
    def get(self, request: Request) -> Response:
        enrolments = list(api_selectors.enrolments_for(request.user))
        exercises = list(api_selectors.exercises_for(request.user))
        return Response(
            [
                {
                    "slug": e.course.slug,
                    "title": e.course.title,
                    "role": e.role,
                    "exercises": [_exercise_json(request, x) for x in exercises if x.course_id == e.course_id],
                }
                for e in enrolments
            ]
        )


class ExerciseList(ApiView):
    @extend_schema(
        summary="The exercises of your courses",
        responses=s.ExerciseSerializer(many=True),
        parameters=[
            OpenApiParameter("course", str, description="only this course (its slug)"),
            OpenApiParameter("slug", str, description="only exercises with this slug"),
        ],
    )
    def get(self, request: Request) -> Response:
        exercises = api_selectors.exercises_for(
            request.user, course_slug=request.query_params.get("course", ""), slug=request.query_params.get("slug", "")
        )
        return Response([_exercise_json(request, x) for x in exercises])


class ExerciseSubmit(ApiView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    throttle_classes = [ApiSubmitThrottle]

    @extend_schema(
        summary="Submit to an exercise",
        description='JSON `{"source": ..., "filename": ...}` or a multipart `file` (.py or .ipynb). A '
        "notebook is graded by the cells that define the exercise's interface. With an "
        "`Idempotency-Key` header, repeating the request returns the first submission (200) "
        "instead of making a second one.",
        request={"application/json": s.SubmitSerializer, "multipart/form-data": s.SubmitSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        responses={
            201: s.SubmissionSerializer,
            200: s.SubmissionSerializer,
            400: ERROR,
            403: ERROR,
            404: ERROR,
            422: ERROR,
        },
    )
    def post(self, request: Request, exercise_id: int) -> Response:
        exercise = api_selectors.exercise_for(request.user, exercise_id)
        form = s.SubmitSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = form.validated_data.get("file")
        try:
            if upload is not None:
                source = source_from_upload(exercise, upload.name or "", read_upload(upload))
            elif "source" in form.validated_data:
                text = form.validated_data["source"]
                filename = form.validated_data.get("filename", "")
                source = source_from_upload(exercise, filename, text.encode("utf-8")) if filename else text
            else:
                return Response(
                    {"detail": "Send 'source' (JSON) or 'file' (multipart)."}, status=status.HTTP_400_BAD_REQUEST
                )
            done = api_submission_create(
                user=request.user,
                exercise=exercise,
                source=source,
                idempotency_key=request.headers.get("Idempotency-Key", ""),
            )
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
        except IdempotencyConflict as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        submission, staff = api_selectors.submission_for(request.user, done.submission.pk)
        response = Response(
            api_selectors.submission_json(submission, as_staff=staff),
            status=status.HTTP_200_OK if done.replayed else status.HTTP_201_CREATED,
        )
        response["Location"] = reverse("api:submission-detail", args=[submission.pk])
        if done.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class SubmissionDetail(ApiView):
    @extend_schema(
        summary="A submission's status and, once graded, its result",
        responses={200: s.SubmissionSerializer, 404: ERROR},
    )
    def get(self, request: Request, submission_id: int) -> Response:
        submission, staff = api_selectors.submission_for(request.user, submission_id)
        return Response(api_selectors.submission_json(submission, as_staff=staff))


class SubmissionResult(ApiView):
    @extend_schema(
        summary="The result in the CLI's results-JSON shape (409 until graded)",
        responses={200: s.ResultSerializer, 404: ERROR, 409: ERROR},
    )
    def get(self, request: Request, submission_id: int) -> Response:
        submission, staff = api_selectors.submission_for(request.user, submission_id)
        result = api_selectors.result_json(submission, as_staff=staff)
        if result is None:
            return Response(
                {
                    "detail": f"Not graded yet (state: {submission.latest_job.status if submission.latest_job else 'none'})."
                },
                status=status.HTTP_409_CONFLICT,
            )
        return Response(result)


# ---- instructors ----------------------------------------------------------------------------


class CourseSubmissions(ApiView):
    @extend_schema(
        summary="The course's submissions (instructors), newest first",
        parameters=[
            OpenApiParameter("page", int),
            OpenApiParameter("per_page", int, description="1..200"),
            OpenApiParameter("student", str),
            OpenApiParameter("exercise", str, description="slug"),
            OpenApiParameter("status", str, enum=["queued", "running", "failed", "graded", "full", "overridden"]),
        ],
        responses={200: s.SubmissionPageSerializer, 404: ERROR},
    )
    def get(self, request: Request, course_slug: str) -> Response:
        course = api_selectors.course_for_staff(request.user, course_slug)
        try:
            per_page = min(max(int(request.query_params.get("per_page", 50)), 1), 200)
            page_number = max(int(request.query_params.get("page", 1)), 1)
        except ValueError:
            return Response({"detail": "page and per_page are integers."}, status=status.HTTP_400_BAD_REQUEST)
        page = selectors_instructor.submissions_browse(course, request.query_params, page_number, per_page)
        base = request.build_absolute_uri(request.path)
        params = request.query_params.copy()

        def link(n: int) -> str:
            params["page"] = str(n)
            return f"{base}?{params.urlencode()}"

        rows = []
        for sub in page.object_list:
            result, job = sub.current_result, sub.latest_job
            rows.append(
                {
                    "id": sub.pk,
                    "user": sub.user.get_username(),
                    "exercise": sub.revision.exercise.slug,
                    "created_at": sub.created_at,
                    "state": selectors.job_state(job) if job else "",
                    "score": result.score if result else None,
                    "max_score": result.max_score if result else None,
                    "override": sub.override_score,
                }
            )
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "pages": page.paginator.num_pages,
                "next": link(page.next_page_number()) if page.has_next() else None,
                "previous": link(page.previous_page_number()) if page.has_previous() else None,
                "results": rows,
            }
        )


class CourseGrades(ApiView):
    @extend_schema(
        summary="Export the gradebook (instructors): JSON, or the gradebook CSV with ?as=csv",
        parameters=[
            OpenApiParameter("as", str, enum=["json", "csv"]),
            OpenApiParameter("score", str, enum=["final", "best", "latest"], description="which score the CSV holds"),
        ],
        responses={(200, "application/json"): s.GradesSerializer, (200, "text/csv"): OpenApiTypes.STR, 404: ERROR},
    )
    def get(self, request: Request, course_slug: str) -> Response | HttpResponse:
        course = api_selectors.course_for_staff(request.user, course_slug)
        if request.query_params.get("as") == "csv":
            mode = request.query_params.get("score", "final")
            if mode not in ("best", "latest", "final"):
                return Response({"detail": "score is final, best or latest."}, status=status.HTTP_400_BAD_REQUEST)
            response = HttpResponse(gradebook.gradebook_csv(course, mode), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{course.slug}-gradebook-{mode}.csv"'
            return response
        exercises = selectors_instructor.course_exercises(course)
        grid = gradebook.cells(gradebook.attempts_for_course(course))

        def cell(c) -> dict | None:
            if c is None:
                return None
            return {
                "best": c.best,
                "latest": c.latest,
                "final": c.final,
                "attempts": c.attempts,
                "late": c.late,
                "overridden": c.overridden,
            }

        return Response(
            {
                "course": course.slug,
                "exercises": [
                    {
                        "id": e.pk,
                        "slug": e.slug,
                        "title": e.title,
                        "max_score": e.current_revision.max_score if e.current_revision else None,
                    }
                    for e in exercises
                ],
                "students": [
                    {
                        "username": u.get_username(),
                        "name": u.get_full_name(),
                        "grades": {e.slug: cell(grid.get((u.pk, e.pk))) for e in exercises},
                    }
                    for u in gradebook.course_students(course)
                ],
            }
        )


class ExerciseRegrade(ApiView):
    throttle_classes = [ApiSubmitThrottle]

    @extend_schema(
        summary="Regrade an exercise's submissions against its current revision (instructors)",
        request=s.RegradeRequestSerializer,
        responses={201: s.RegradeSerializer, 400: ERROR, 404: ERROR},
    )
    def post(self, request: Request, course_slug: str, exercise_slug: str) -> Response:
        course = api_selectors.course_for_staff(request.user, course_slug)
        exercise = selectors_instructor.exercise_for_course(course, exercise_slug)
        form = s.RegradeRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            batch: Regrade = regrade.regrade_start(
                exercise=exercise, actor=request.user, scope=form.validated_data["scope"]
            )
        except ValidationError as exc:
            return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "id": batch.pk,
                "exercise": exercise.slug,
                "scope": batch.scope,
                "revision": batch.revision.content_hash[:12],
                "submissions": list(batch.jobs.order_by("id").values_list("submission_id", flat=True)),
            },
            status=status.HTTP_201_CREATED,
        )

"""/api/v1/ (the JSON API), /api/schema/ and /api/docs/ (OpenAPI), /api/tokens/ (the user's tokens)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from courseapp.api import pages, views

v1 = [
    path("courses/", views.CourseList.as_view(), name="course-list"),
    path("exercises/", views.ExerciseList.as_view(), name="exercise-list"),
    path("exercises/<int:exercise_id>/submissions/", views.ExerciseSubmit.as_view(), name="exercise-submit"),
    path("submissions/<int:submission_id>/", views.SubmissionDetail.as_view(), name="submission-detail"),
    path("submissions/<int:submission_id>/result/", views.SubmissionResult.as_view(), name="submission-result"),
    path("courses/<slug:course_slug>/submissions/", views.CourseSubmissions.as_view(), name="course-submissions"),
    path("courses/<slug:course_slug>/grades/", views.CourseGrades.as_view(), name="course-grades"),
    path(
        "courses/<slug:course_slug>/exercises/<slug:exercise_slug>/regrades/",
        views.ExerciseRegrade.as_view(),
        name="exercise-regrade",
    ),
]

# Included at the site root by courseapp/urls.py (names outside the "api" namespace for the pages).
urlpatterns = [
    path("api/v1/", include((v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/tokens/", pages.token_list, name="api-tokens"),
    path("api/tokens/<int:token_id>/revoke/", pages.token_revoke, name="api-token-revoke"),
]

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from courseapp import metrics, views, views_roster

urlpatterns = [
    path("", views.exercise_list, name="exercise-list"),
    path(
        "exercises/<int:exercise_id>/", views.exercise_by_id, name="exercise-by-id"
    ),  # before the slug: "12" is a slug too
    path("exercises/<slug:slug>/", views.exercise_detail, name="exercise-detail"),
    path("courses/<slug:course>/", views.course_exercise_list, name="course-exercise-list"),
    path("courses/<slug:course>/exercises/<slug:slug>/", views.course_exercise, name="course-exercise"),
    path("join/", views_roster.course_join, name="course-join"),
    path("submissions/<int:submission_id>/", views.submission_detail, name="submission-detail"),
    path("submissions/<int:submission_id>/status.json", views.submission_status, name="submission-status"),
    path("submissions/<int:submission_id>/feedback/", views.submission_feedback, name="submission-feedback"),
    path("instructor/", include("courseapp.review.urls")),
    path("instructor/", include("courseapp.urls_instructor")),
    path("", include("courseapp.api.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("lti/", include("courseapp.lti.urls")),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("healthz", metrics.healthz_view, name="healthz"),
]

from django.urls import path

from courseapp import views_instructor as v
from courseapp import views_roster

urlpatterns = [
    path("", v.course_list, name="instructor-courses"),
    path("<slug:course>/", v.dashboard, name="instructor-dashboard"),
    path("<slug:course>/submissions/", v.submissions, name="instructor-submissions"),
    path("<slug:course>/submissions/<int:submission_id>/", v.submission, name="instructor-submission"),
    path("<slug:course>/gradebook.csv", v.gradebook_csv, name="instructor-gradebook-csv"),
    path("<slug:course>/submissions.csv", v.submissions_csv, name="instructor-submissions-csv"),
    path("<slug:course>/progress/", v.progress, name="instructor-progress"),
    path("<slug:course>/audit/", v.audit, name="instructor-audit"),
    path("<slug:course>/roster/", views_roster.roster, name="instructor-roster"),
    path("<slug:course>/exercises/<slug:slug>/", v.exercise_settings, name="instructor-exercise"),
    path("<slug:course>/exercises/<slug:slug>/regrade/", v.regrade_start, name="instructor-regrade-start"),
    path("<slug:course>/regrades/<int:regrade_id>/", v.regrade_report, name="instructor-regrade"),
    path("<slug:course>/exercises/<slug:slug>/similarity/", v.similarity_report, name="instructor-similarity"),
    path(
        "<slug:course>/exercises/<slug:slug>/similarity/<int:a>/<int:b>/",
        v.similarity_pair,
        name="instructor-similarity-pair",
    ),
]

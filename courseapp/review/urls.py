from django.urls import path

from courseapp.review import views

urlpatterns = [
    path("<slug:course>/exercises/<slug:slug>/review/", views.queue, name="review-queue"),
    path("<slug:course>/exercises/<slug:slug>/review/decide/", views.decide, name="review-decide"),
    path("<slug:course>/exercises/<slug:slug>/review/settings/", views.settings, name="review-settings"),
    path("<slug:course>/exercises/<slug:slug>/review/regrade/", views.regrade_report, name="review-regrade"),
    path("<slug:course>/exercises/<slug:slug>/review/regrade/run/", views.regrade_run, name="review-regrade-run"),
    path("<slug:course>/exercises/<slug:slug>/review/regrade/apply/", views.regrade_apply, name="review-regrade-apply"),
    path("<slug:course>/exercises/<slug:slug>/review/calibration/", views.calibration, name="review-calibration"),
]

from django.urls import path

from courseapp.lti import views

urlpatterns = [
    path("login/", views.oidc_login, name="lti-login"),
    path("launch/", views.launch, name="lti-launch"),
    path("jwks/", views.jwks, name="lti-jwks"),
    path("deep-link/", views.deep_link_response, name="lti-deep-link"),
    path("courses/<slug:course>/", views.course_lti, name="lti-course"),
    path("courses/<slug:course>/roster-sync/", views.course_roster_sync, name="lti-roster-sync"),
]

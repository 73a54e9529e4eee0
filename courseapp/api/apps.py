from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The token-authenticated JSON API (/api/v1/) and the per-user API tokens."""

    name = "courseapp.api"
    label = "api"
    verbose_name = "API"

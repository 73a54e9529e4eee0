from django.apps import AppConfig


class ReviewConfig(AppConfig):
    """Free-text review: the queue of provisional grades, teacher decisions and labelled exemplars."""

    name = "courseapp.review"
    label = "review"
    verbose_name = "Free-text review"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class LtiConfig(AppConfig):
    name = "courseapp.lti"
    label = "lti"
    verbose_name = "LTI 1.3"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from courseapp.lti import receivers, tasks  # noqa: F401  (connects the passback receiver, registers tasks)

from django.apps import AppConfig


class CourseappConfig(AppConfig):
    name = "courseapp"
    verbose_name = "Course"

    def ready(self) -> None:
        from courseapp import checks  # noqa: F401  (registers the system checks)

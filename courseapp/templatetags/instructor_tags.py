from django import template

register = template.Library()


@register.simple_tag
def teaches_any(user) -> bool:
    """Whether the user is an instructor of any course (shows the 'Teaching' link)."""
    from courseapp.models import Enrolment

    if not getattr(user, "is_authenticated", False):
        return False
    return Enrolment.objects.filter(user=user, role=Enrolment.Role.INSTRUCTOR).exists()

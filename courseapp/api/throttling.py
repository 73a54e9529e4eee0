"""Request rates per user (in the shared cache, like the login throttle). Submissions are also held
to the exercise's own attempt and rate rules by submission_create, exactly as in the browser."""

from rest_framework.throttling import UserRateThrottle


class ApiReadThrottle(UserRateThrottle):
    scope = "api"


class ApiSubmitThrottle(UserRateThrottle):
    scope = "api_submit"

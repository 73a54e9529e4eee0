"""`Authorization: Bearer <token>` (or `Token <token>`) for the API."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from courseapp.api.services import api_token_user


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() not in self.keywords:
            return None  # not ours: another authenticator (or none) decides
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header: expected 'Bearer <token>'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not ASCII.") from None
        user = api_token_user(raw)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        return user, raw

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "courseapp.api.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (your account page, or `manage.py api_token_create`).",
        }

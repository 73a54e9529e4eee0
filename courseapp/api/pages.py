"""The user's own API token page: list, create (the token is shown once), revoke."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from courseapp.api.models import ApiToken
from courseapp.api.services import api_token_create, api_token_revoke

MAX_ACTIVE_TOKENS = 20


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert user.is_authenticated  # @login_required
    tokens = ApiToken.objects.filter(user=user)
    new_token, error = "", ""
    if request.method == "POST":
        if tokens.filter(revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS:
            error = f"You have {MAX_ACTIVE_TOKENS} active tokens; revoke one first."
        else:
            _, new_token = api_token_create(user=request.user, name=request.POST.get("name", ""))
    return render(
        request,
        "api/tokens.html",
        {
            "tokens": tokens,
            "new_token": new_token,
            "error": error,
            "api_root": request.build_absolute_uri("/"),
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    api_token_revoke(user=request.user, token_id=token_id)
    return redirect("api-tokens")

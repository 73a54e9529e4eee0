from django.contrib import admin, messages
from django.db import models
from django.urls import reverse
from django.utils.html import format_html_join

from courseapp.lti.keys import key_rotate
from courseapp.lti.models import LineItem, LtiContext, LtiUser, Passback, Platform, ResourceLink, ToolKey
from courseapp.lti.passback import passback_drain


def tool_urls(request=None) -> dict[str, str]:
    """What a platform administrator enters: the tool's login, launch (redirect) and JWKS URLs."""
    from courseapp.lti.views import tool_url

    return {
        label: tool_url(request, reverse(name))
        for label, name in (
            ("OIDC login URL", "lti-login"),
            ("Launch / redirect URL", "lti-launch"),
            ("Public keys (JWKS) URL", "lti-jwks"),
        )
    }


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ("__str__", "issuer", "client_id", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "issuer", "client_id")
    readonly_fields = ("this_tools_urls",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fields = (
        "name",
        "issuer",
        "client_id",
        "deployment_ids",
        "auth_login_url",
        "auth_token_url",
        "key_set_url",
        "auth_audience",
        "is_active",
        "this_tools_urls",
    )

    def get_form(self, request, obj=None, **kwargs):
        self._request = request
        return super().get_form(request, obj, **kwargs)

    @admin.display(description="Enter these in the platform")
    def this_tools_urls(self, obj):
        return format_html_join(
            "", "<div>{}: <code>{}</code></div>", tool_urls(getattr(self, "_request", None)).items()
        )


@admin.register(ToolKey)
class ToolKeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "created_at")
    readonly_fields = ("kid", "public_key", "created_at")
    exclude = ("private_key",)
    actions = ["rotate"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Rotate: make a new signing key (the newest two stay published)")
    def rotate(self, request, queryset):
        key = key_rotate()
        self.message_user(request, f"New signing key {key.kid}.", messages.SUCCESS)


@admin.register(LtiUser)
class LtiUserAdmin(admin.ModelAdmin):
    list_display = ("sub", "issuer", "user", "created_at")
    search_fields = ("sub", "user__username")


@admin.register(LtiContext)
class LtiContextAdmin(admin.ModelAdmin):
    list_display = ("title", "context_id", "platform", "course", "created_at")


@admin.register(ResourceLink)
class ResourceLinkAdmin(admin.ModelAdmin):
    list_display = ("resource_link_id", "context", "exercise", "lineitem_url", "updated_at")


@admin.register(LineItem)
class LineItemAdmin(admin.ModelAdmin):
    list_display = ("context", "exercise", "url")


@admin.register(Passback)
class PassbackAdmin(admin.ModelAdmin):
    list_display = (
        "user",
        "exercise",
        "version",
        "sent_version",
        "changed_at",
        "failures",
        "next_attempt_at",
        "sent_at",
    )
    list_filter = ("failures",)
    readonly_fields = [f.name for f in Passback._meta.fields]
    actions = ["send_now"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Send the due passbacks now")
    def send_now(self, request, queryset):
        self.message_user(request, f"Passback: {passback_drain()}")

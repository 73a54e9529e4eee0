"""What the tool keeps about platforms, its own keys, and the people, courses, links and grades that
came through LTI. Writes go through courseapp.lti.services."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class Platform(models.Model):
    """One registration of this tool in an LMS: an issuer and the client id it gave the tool."""

    name = models.CharField(max_length=200, blank=True, help_text="for people only (e.g. 'Canvas, our university')")
    issuer = models.URLField(max_length=500)
    client_id = models.CharField(max_length=200)
    auth_login_url = models.URLField(max_length=500, help_text="the platform's OIDC authorisation endpoint")
    auth_token_url = models.URLField(max_length=500, help_text="the platform's OAuth2 token endpoint")
    key_set_url = models.URLField(max_length=500, help_text="the platform's public keys (JWKS)")
    auth_audience = models.CharField(
        max_length=500, blank=True, help_text="the token endpoint's audience, when not the token URL itself"
    )
    deployment_ids = models.JSONField(
        default=list, blank=True, help_text='the deployment ids launches may carry, e.g. ["1", "7:abc"]'
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "client_id"], name="lti_platform_issuer_client")]

    def clean(self) -> None:
        ids = self.deployment_ids
        if not isinstance(ids, list) or not all(isinstance(d, str) and d.strip() for d in ids):
            raise ValidationError({"deployment_ids": 'a JSON list of deployment ids (strings), e.g. ["1", "7:abc"]'})

    def knows_deployment(self, deployment_id: str) -> bool:
        return isinstance(self.deployment_ids, list) and deployment_id in self.deployment_ids

    def __str__(self) -> str:
        return self.name or f"{self.issuer} ({self.client_id})"


class ToolKey(models.Model):
    """An RSA key pair of the tool. The newest signs; the JWKS also serves the one before it, so a
    platform that cached the old key set keeps verifying while it refreshes (rotation)."""

    kid = models.CharField(max_length=100, unique=True)
    private_key = models.TextField()  # PEM (PKCS#8)
    public_key = models.TextField()  # PEM (SubjectPublicKeyInfo)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        get_latest_by = ["created_at", "id"]

    def __str__(self) -> str:
        return f"key {self.kid} ({self.created_at:%Y-%m-%d})"


class LtiUser(models.Model):
    """A platform user, (issuer, sub), and the account it maps to: one account per person of an
    issuer, whichever of the issuer's registrations (client ids) launched them."""

    issuer = models.URLField(max_length=500)
    sub = models.CharField(max_length=255)
    platform = models.ForeignKey(
        Platform, on_delete=models.CASCADE, related_name="users", help_text="the registration that first launched them"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "sub"], name="lti_user_issuer_sub")]

    def __str__(self) -> str:
        return f"{self.sub} @ {self.issuer} -> {self.user}"


class LtiContext(models.Model):
    """A platform's course (context) and the course it maps to, with the service URLs its launches gave."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="contexts")
    context_id = models.CharField(max_length=255)
    course = models.OneToOneField("courseapp.Course", on_delete=models.CASCADE, related_name="lti_context")
    title = models.CharField(max_length=255, blank=True)
    deployment_id = models.CharField(max_length=255, blank=True)
    lineitems_url = models.URLField(max_length=500, blank=True)
    ags_scopes = models.JSONField(default=list, blank=True)
    memberships_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "context_id"], name="lti_context_platform_id")]

    def __str__(self) -> str:
        return f"{self.title or self.context_id} @ {self.platform}"


class ResourceLink(models.Model):
    """A placement of the tool in a context, with the exercise it opens and its own line item (AGS
    `lineitem` claim) when the platform gave one."""

    context = models.ForeignKey(LtiContext, on_delete=models.CASCADE, related_name="resource_links")
    resource_link_id = models.CharField(max_length=255)
    exercise = models.ForeignKey(
        "courseapp.Exercise", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lineitem_url = models.URLField(max_length=500, blank=True)
    title = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["context", "resource_link_id"], name="lti_resource_link_context_id")
        ]


class LineItem(models.Model):
    """Where an exercise's grades go in a context: the launch's line item or the one found or made
    with resourceId = the exercise's slug."""

    context = models.ForeignKey(LtiContext, on_delete=models.CASCADE, related_name="line_items")
    exercise = models.ForeignKey("courseapp.Exercise", on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["context", "exercise"], name="lti_line_item_context_exercise")]


class Passback(models.Model):
    """The outbox: one row per (user, exercise) whose final grade must reach the platform.

    Each grade change bumps `version` and makes the row due; a send reads the grade as it is then
    and marks the row sent only if no newer change came in meanwhile (`sent_version = version`).
    A refused or failed send is retried with back-off, without end, so nothing is lost."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    exercise = models.ForeignKey("courseapp.Exercise", on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField(default=1)
    sent_version = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)  # the score's timestamp
    reason = models.CharField(max_length=20, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    failures = models.PositiveIntegerField(default=0)  # consecutive failed sends (sets the back-off)
    last_error = models.TextField(blank=True)
    last_sent = models.JSONField(default=dict, blank=True)  # the score body the platform accepted last
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "exercise"], name="lti_passback_user_exercise")]
        indexes = [models.Index(fields=["next_attempt_at"])]

    @property
    def pending(self) -> bool:
        return self.sent_version < self.version

    def __str__(self) -> str:
        state = "pending" if self.pending else "sent"
        return f"passback {self.user} / {self.exercise} ({state}, {self.failures} failures)"

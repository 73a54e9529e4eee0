"""What a validated launch does here: find or create the user (by issuer and `sub`), the course of
the launch's context (offering the module's exercises), the enrolment with the launch's role, and
remember the resource link and its line item. Nothing here checks the launch: pylti1p3 did."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from courseapp.lti.models import LineItem, LtiContext, LtiUser, Platform, ResourceLink
from courseapp.models import Course, Enrolment, Exercise, ExerciseRevision

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
CONTEXT_CLAIM = CLAIM + "context"
CUSTOM_CLAIM = CLAIM + "custom"
ROLES_CLAIM = CLAIM + "roles"
RESOURCE_LINK_CLAIM = CLAIM + "resource_link"
DEPLOYMENT_CLAIM = CLAIM + "deployment_id"
PRESENTATION_CLAIM = CLAIM + "launch_presentation"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEEP_LINKING_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
# Context roles as the contract names them (full URIs, and the short forms LTI 1.3 still allows).
STAFF_ROLES = frozenset(
    {
        LIS + "membership#Instructor",
        LIS + "membership/Instructor#TeachingAssistant",
        "Instructor",
    }
)
STUDENT_ROLES = frozenset({LIS + "membership#Learner", "Learner"})


class LaunchRefused(Exception):
    """A validated launch this tool cannot serve (no course context, no role it knows). The message
    is shown to the person."""


def claim_map(claims: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A claim that should be a JSON object; {} when missing or of another type (a platform's
    oddity must not turn a valid launch into a 500)."""
    value = claims.get(name)
    return value if isinstance(value, Mapping) else {}


def service_url(value: object) -> str:
    """A service endpoint from a claim: an http(s) URL, else "" (not given)."""
    return value if isinstance(value, str) and origin(value) and len(value) <= 500 else ""


def role_from(roles: Any) -> str | None:
    """The enrolment role for a list of LTI role URIs: staff wins when both are present."""
    given = {r for r in roles if isinstance(r, str)} if isinstance(roles, list) else set()
    if given & STAFF_ROLES:
        return Enrolment.Role.INSTRUCTOR
    if given & STUDENT_ROLES:
        return Enrolment.Role.STUDENT
    return None


def origin(url: object) -> str | None:
    """scheme://host[:port] of an http(s) URL, else None."""
    if not isinstance(url, str) or not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def _username_for(issuer: str, sub: str) -> str:
    digest = hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()
    return f"lti-{digest[:16]}"


def user_for(platform: Platform, sub: str, claims: Mapping[str, Any]):
    """The account linked to (issuer, sub), created on first sight; names and email follow the platform."""
    User = get_user_model()
    link = LtiUser.objects.filter(issuer=platform.issuer, sub=sub).select_related("user").first()
    if link is None:
        try:
            with transaction.atomic():
                user = User.objects.create(username=_username_for(platform.issuer, sub))
                user.set_unusable_password()
                user.save(update_fields=["password"])
                link = LtiUser.objects.create(issuer=platform.issuer, sub=sub, platform=platform, user=user)
        except IntegrityError:  # a parallel launch of the same person won
            link = LtiUser.objects.select_related("user").get(issuer=platform.issuer, sub=sub)
    user = link.user
    fields = {
        "first_name": str(claims.get("given_name") or "")[:150],
        "last_name": str(claims.get("family_name") or "")[:150],
        "email": str(claims.get("email") or "")[:254],
    }
    changed = [name for name, value in fields.items() if value and getattr(user, name) != value]
    for name in changed:
        setattr(user, name, fields[name])
    if changed:
        user.save(update_fields=changed)
    return user


def module_course() -> Course | None:
    """The course exercise_sync loads the module's exercises into (settings.COURSE_SLUG)."""
    return Course.objects.filter(slug=settings.COURSE_SLUG).first()


# ExerciseRevision fields copied into an LTI course's copy of a revision (everything but identity).
_REVISION_SKIP = {"id", "exercise", "created_at"}


@transaction.atomic
def course_offer_module_exercises(course: Course) -> None:
    """Give `course` the module's exercises at their current revisions (a copy per course, so the
    course's submissions, policies and gradebook are its own). Re-run on each launch, so a course
    follows exercise_sync's new revisions."""
    source = module_course()
    if source is None or source.pk == course.pk:
        return
    fields = [f.name for f in ExerciseRevision._meta.concrete_fields if f.name not in _REVISION_SKIP]
    mine = {e.slug: e for e in Exercise.objects.filter(course=course).select_related("current_revision")}
    for original in Exercise.objects.filter(course=source, current_revision__isnull=False).select_related(
        "current_revision"
    ):
        rev = original.current_revision
        if rev is None:  # filtered out above; for the type checker
            continue
        copy = mine.get(original.slug)
        if copy is None:
            copy = Exercise.objects.create(
                course=course,
                slug=original.slug,
                title=original.title,
                kind=original.kind,
                order=original.order,
                queue=original.queue,
            )
        elif copy.current_revision is not None and copy.current_revision.content_hash == rev.content_hash:
            continue
        else:
            Exercise.objects.filter(pk=copy.pk).update(
                title=original.title, kind=original.kind, order=original.order, queue=original.queue
            )
        revision, _ = ExerciseRevision.objects.get_or_create(
            exercise=copy,
            content_hash=rev.content_hash,
            defaults={name: getattr(rev, name) for name in fields if name != "content_hash"},
        )
        Exercise.objects.filter(pk=copy.pk).update(current_revision=revision)


def context_for(platform: Platform, claims: Mapping[str, Any]) -> LtiContext:
    """The course of the launch's context, created on its first launch; service URLs kept current."""
    context_claim = claim_map(claims, CONTEXT_CLAIM)
    context_id = str(context_claim.get("id") or "")
    if not context_id:
        raise LaunchRefused(
            "This launch names no course (the LTI context claim is missing), so there "
            "is no course to open. Place the tool inside a course in your LMS."
        )
    title = str(context_claim.get("title") or context_claim.get("label") or context_id)[:200]
    context = LtiContext.objects.filter(platform=platform, context_id=context_id).select_related("course").first()
    if context is None:
        digest = hashlib.sha256(f"{platform.pk}\n{context_id}".encode()).hexdigest()[:12]
        try:
            with transaction.atomic():
                course = Course.objects.create(slug=f"lti-{digest}", title=title)
                context = LtiContext.objects.create(
                    platform=platform, context_id=context_id, course=course, title=title
                )
        except IntegrityError:  # a parallel first launch of the same context won
            context = LtiContext.objects.select_related("course").get(platform=platform, context_id=context_id)
    ags = claim_map(claims, AGS_CLAIM)
    nrps = claim_map(claims, NRPS_CLAIM)
    updates = {
        "title": title,
        "deployment_id": str(claims.get(DEPLOYMENT_CLAIM) or ""),
        "lineitems_url": service_url(ags.get("lineitems")) or context.lineitems_url,
        "ags_scopes": [str(s) for s in ags["scope"]] if isinstance(ags.get("scope"), list) else context.ags_scopes,
        "memberships_url": service_url(nrps.get("context_memberships_url")) or context.memberships_url,
    }
    changed = [name for name, value in updates.items() if getattr(context, name) != value]
    for name in changed:
        setattr(context, name, updates[name])
    if changed:
        context.save(update_fields=changed)
    course_offer_module_exercises(context.course)
    return context


def enrol(user, course: Course, role: str) -> Enrolment:
    """The platform is the truth about roles: the enrolment follows the latest launch or roster."""
    enrolment, _ = Enrolment.objects.update_or_create(user=user, course=course, defaults={"role": role})
    return enrolment


@dataclass
class AcceptedLaunch:
    platform: Platform
    user: Any
    context: LtiContext
    role: str
    exercise: Exercise | None
    frame_origins: list[str]

    @property
    def is_staff(self) -> bool:
        return self.role == Enrolment.Role.INSTRUCTOR


@transaction.atomic
def launch_accept(platform: Platform, claims: Mapping[str, Any]) -> AcceptedLaunch:
    """Everything a checked launch (resource link or deep linking) sets up here."""
    role = role_from(claims.get(ROLES_CLAIM))
    if role is None:
        raise LaunchRefused(
            "Your role in this course is neither instructor, teaching assistant nor "
            "learner, so this tool cannot tell what to show you."
        )
    context = context_for(platform, claims)
    user = user_for(platform, str(claims["sub"]), claims)
    enrol(user, context.course, role)
    slug = str(claim_map(claims, CUSTOM_CLAIM).get("exercise") or "")
    exercise = (
        Exercise.objects.filter(course=context.course, slug=slug, current_revision__isnull=False).first()
        if slug
        else None
    )
    link_claim = claim_map(claims, RESOURCE_LINK_CLAIM)
    if link_claim.get("id"):
        lineitem = service_url(claim_map(claims, AGS_CLAIM).get("lineitem"))
        ResourceLink.objects.update_or_create(
            context=context,
            resource_link_id=str(link_claim["id"]),
            defaults={
                "exercise": exercise,
                "lineitem_url": lineitem,
                "title": str(link_claim.get("title") or "")[:255],
            },
        )
        if exercise is not None and lineitem:
            # The launch's own line item is where this exercise's grades go (contract, section 4).
            LineItem.objects.update_or_create(context=context, exercise=exercise, defaults={"url": lineitem})
    origins = {
        origin(platform.issuer),
        origin(claim_map(claims, PRESENTATION_CLAIM).get("return_url")),
        origin(claim_map(claims, DEEP_LINKING_CLAIM).get("deep_link_return_url")),
    }
    return AcceptedLaunch(
        platform=platform,
        user=user,
        context=context,
        role=role,
        exercise=exercise,
        frame_origins=sorted(o for o in origins if o),
    )

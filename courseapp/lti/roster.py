"""Names and Role Provisioning: a context's roster from the platform, as users and enrolments."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from pylti1p3.names_roles import NamesRolesProvisioningService

from courseapp.lti.http import CachedTokenConnector
from courseapp.lti.launches import enrol, role_from, user_for
from courseapp.lti.models import LtiContext, LtiUser
from courseapp.lti.tool_config import registration_for
from courseapp.models import Enrolment


class RosterUnavailable(Exception):
    """The context has no memberships URL yet (no launch carried the NRPS claim)."""


@dataclass
class RosterSync:
    enrolled: int = 0  # active members with a role this tool knows
    removed: int = 0  # enrolments of members the platform lists as inactive or deleted
    skipped: int = 0  # members without a known role

    def __str__(self) -> str:
        return f"{self.enrolled} enrolled, {self.removed} removed, {self.skipped} skipped (no known role)"


def roster_sync(context: LtiContext) -> RosterSync:
    """Fetch every page of the context's membership and enrol each active member with their role."""
    if not context.memberships_url:
        raise RosterUnavailable(
            f"{context}: no launch has given a memberships URL (NRPS) yet; "
            "launch the tool from the course once, as an instructor"
        )
    connector = CachedTokenConnector(context.platform_id, registration_for(context.platform))
    service = NamesRolesProvisioningService(connector, {"context_memberships_url": context.memberships_url})
    members = service.get_members()  # network first, then one short transaction
    counts = RosterSync()
    with transaction.atomic():
        for member in members:
            sub = str(member.get("user_id") or "")
            role = role_from(member.get("roles"))
            if not sub:
                counts.skipped += 1
                continue
            if member.get("status", "Active") != "Active":
                link = LtiUser.objects.filter(issuer=context.platform.issuer, sub=sub).first()
                if link is not None:
                    counts.removed += Enrolment.objects.filter(user=link.user, course=context.course).delete()[0]
                continue
            if role is None:
                counts.skipped += 1
                continue
            enrol(user_for(context.platform, sub, member), context.course, role)
            counts.enrolled += 1
    return counts

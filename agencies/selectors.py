"""Reads about agencies and the acting user's place in one."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from agencies.models import Agency, AuditEvent, Membership


def membership_of(user: Any) -> Membership | None:
    """The active user's membership, or None for anonymous users and platform staff."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    try:
        membership: Membership = user.membership
    except Membership.DoesNotExist:
        return None
    return membership


def acting_agency(user: Any) -> Agency | None:
    """The agency a user acts for; resolved from the membership, never from request input."""
    membership = membership_of(user)
    return membership.agency if membership else None


def has_role(user: Any, *roles: str) -> bool:
    """Whether the user's membership has one of these roles."""
    membership = membership_of(user)
    return membership is not None and membership.role in roles


def audit_events(*, agency: Agency | None) -> QuerySet[AuditEvent]:
    """The agency's audit trail, newest first."""
    return AuditEvent.objects.for_agency(agency).order_by("-at", "-seq")

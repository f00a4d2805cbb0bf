"""Reads about agencies and the acting user's place in one."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
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


def account_refusal(user: Any) -> str:
    """Why this account may not be used now, or "" when it may (training, active)."""
    if not getattr(user, "is_authenticated", False):
        return "Sign in first."
    if not user.is_active:
        return "This account is disabled. Ask your agency admin."
    membership = membership_of(user)
    if membership is None:
        return "" if user.is_staff else "This account belongs to no agency."
    if membership.training_valid_until is None or membership.training_valid_until < date.today():
        return ("Your face-search training is not on record or has lapsed. Ask your agency admin "
                "to record your training.")
    return ""


def agency_members_with_roles(*, agency: Agency | None) -> QuerySet[Any]:
    """Every account of the agency, active or not, with its membership."""
    return (get_user_model().objects.filter(membership__agency=agency)
            .select_related("membership").order_by("username"))

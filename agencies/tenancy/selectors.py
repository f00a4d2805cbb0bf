"""Reads about agencies and the acting user's place in one."""

from __future__ import annotations

from typing import Any

from agencies.tenancy.models import Agency, Membership
from portal.db import scope
from portal.db.scope import Scope


def membership_of(user: Any) -> Membership | None:
    """The active user's membership, or None for anonymous users and platform staff."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    # A user's own membership is how a request finds its agency, so it is read in the user's
    # scope whatever the caller's; the agency row is then loaded in that agency's scope.
    with scope.rows(Scope(user_id=user.pk)):
        try:
            membership: Membership = user.membership
        except Membership.DoesNotExist:
            return None
    if not Membership.agency.is_cached(membership):
        with scope.rows(Scope(agency_id=membership.agency_id, user_id=user.pk)):
            membership.agency  # noqa: B018  (loaded while its row is visible)
    return membership


def acting_agency(user: Any) -> Agency | None:
    """The agency a user acts for; resolved from the membership, never from request input."""
    membership = membership_of(user)
    return membership.agency if membership else None


def has_role(user: Any, *roles: str) -> bool:
    """Whether the user's membership has one of these roles."""
    membership = membership_of(user)
    return (membership is not None and not membership.awaiting_approval
            and membership.role in roles)

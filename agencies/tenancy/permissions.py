"""Who may act: the one place that says what a platform operator is and checks a member's role."""

from __future__ import annotations

from typing import Any

from agencies.tenancy.models import Agency
from agencies.tenancy.selectors import acting_agency, has_role, membership_of
from portal.errors import ServiceError


class SystemActor:
    """The platform's own jobs, which no person runs: a command the operator starts on the server
    (enroll_folder, seed_demo). Only code can pass it; no request or token can become it."""

    pk = None
    is_authenticated = False

    def __repr__(self) -> str:
        return "SYSTEM"


SYSTEM = SystemActor()


def is_platform_operator(user: Any) -> bool:
    """Platform staff: signed in, staff, and a member of no agency."""
    return bool(getattr(user, "is_authenticated", False) and user.is_staff
                and membership_of(user) is None)


def ensure_operator(actor: Any, *, message: str) -> None:
    """Refuse (403) anyone but the platform operator."""
    if not is_platform_operator(actor):
        raise ServiceError("platform_admin_required", message, status=403)


def ensure_acts_for(actor: Any, agency: Agency | None, *roles: str, code: str, message: str) -> None:
    """Refuse (403) anyone who is not a member of `agency` holding one of `roles` (the system's
    own jobs excepted). Every service that writes a tenant's rows calls it on its actor."""
    if actor is SYSTEM:
        return
    if agency is None or acting_agency(actor) != agency or not has_role(actor, *roles):
        raise ServiceError(code, message, status=403)

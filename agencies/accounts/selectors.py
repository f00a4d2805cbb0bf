"""Reads about accounts: whether one may be used now, and the people of an agency."""

from __future__ import annotations

from datetime import date
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import QuerySet, Sum

from agencies.accounts.models import Invitation
from agencies.tenancy.models import Agency, Membership
from agencies.tenancy.selectors import membership_of
from portal.errors import NotFound


def account_refusal(user: Any) -> str:
    """Why this account may not be used now, or "" when it may (training, active)."""
    if not getattr(user, "is_authenticated", False):
        return "Sign in first."
    if not user.is_active:
        return "This account is disabled. Ask your agency admin."
    membership = membership_of(user)
    if membership is None:
        return "" if user.is_staff else "This account belongs to no agency."
    if membership.awaiting_approval:
        return ("Your account waits for a second admin of your agency to approve its role; you can "
                "sign in once it is approved.")
    if membership.training_valid_until is None or membership.training_valid_until < date.today():
        return ("Your face-search training is not on record or has lapsed. Ask your agency admin "
                "to record your training.")
    return ""


def agency_member_get(*, agency: Agency | None, key: Any, active_only: bool = True) -> Any:
    """One account of the agency by id or username, or NotFound (404): another agency's account
    answers exactly like a missing one."""
    users = get_user_model().objects.none() if agency is None else \
        agency_members_with_roles(agency=agency)
    if active_only:
        users = users.filter(is_active=True)
    text = str(key)
    # isdigit() alone also accepts "²", which int() refuses; an id out of range finds no row.
    by_id = text.isascii() and text.isdigit()
    user = (users.filter(pk=int(text)) if by_id else users.filter(username=text)).first()
    if user is None:
        raise NotFound("not_found", "No such user in your agency.")
    return user


def agency_members_with_roles(*, agency: Agency | None) -> QuerySet[Any]:
    """Every account of the agency, active or not, with its membership; none for no agency."""
    members = Membership.objects.for_agency(agency).values("user_id")
    return (get_user_model().objects.filter(pk__in=members)
            .select_related("membership").order_by("username"))


def locked_usernames(usernames: list[str] | None = None) -> set[str]:
    """Which of these usernames (all, when None) axes has locked out."""
    # axes keeps one row per username and client; the lockout counts them all together.
    attempts = AccessAttempt.objects.all()
    if usernames is not None:
        attempts = attempts.filter(username__in=usernames)
    totals = (attempts.values("username")
              .annotate(failures=Sum("failures_since_start")))
    return {row["username"] for row in totals if row["failures"] >= settings.AXES_FAILURE_LIMIT}


def invitations_pending(*, agency: Agency | None) -> QuerySet[Invitation]:
    """The agency's invitations not yet accepted nor revoked (expired ones too: the admin may send
    them again), newest first."""
    return (Invitation.objects.for_agency(agency)
            .filter(accepted_by__isnull=True, revoked_at__isnull=True)
            .select_related("created_by").order_by("-created_at"))


def invitation_get(*, agency: Agency | None, pk: int) -> Invitation:
    """A pending invitation of the agency, or NotFound: another agency's answers like a missing one."""
    invitation = invitations_pending(agency=agency).filter(pk=pk).first()
    if invitation is None:
        raise NotFound("not_found", "No such pending invitation in your agency.")
    return invitation

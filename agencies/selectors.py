"""Reads about agencies and the acting user's place in one."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from agencies.models import Agency, AuditEvent, Invoice, Membership, UsageEvent, UsageKind
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
    if membership.awaiting_approval:
        return ("Your account waits for a second admin of your agency to approve its role; you can "
                "sign in once it is approved.")
    if membership.training_valid_until is None or membership.training_valid_until < date.today():
        return ("Your face-search training is not on record or has lapsed. Ask your agency admin "
                "to record your training.")
    return ""


def agency_members_with_roles(*, agency: Agency | None) -> QuerySet[Any]:
    """Every account of the agency, active or not, with its membership."""
    return (get_user_model().objects.filter(membership__agency=agency)
            .select_related("membership").order_by("username"))


def invoices_of(*, agency: Agency | None) -> QuerySet[Invoice]:
    """The agency's invoices, newest first, with their lines."""
    return Invoice.objects.for_agency(agency).prefetch_related("lines")


def agency_usage(*, agency: Agency, today: date | None = None) -> dict[str, Any]:
    """Usage of the month so far: searches per day and per officer against the quota."""
    from agencies.licensing import current_license, license_warnings, month_start

    today = today or timezone.localdate()
    period = month_start(today)
    searches = UsageEvent.objects.for_agency(agency).filter(kind=UsageKind.SEARCH, period=period)
    granted = current_license(agency, today)
    return {
        "period": period.isoformat(),
        "searches": searches.count(),
        "quota": granted.plan.monthly_search_quota if granted else 0,
        "plan": granted.plan.name if granted else None,
        "license_ends_on": granted.ends_on.isoformat() if granted else None,
        "license_status": granted.status if granted else None,
        "per_day": [{"day": row["day"].isoformat(), "searches": row["n"]} for row in
                    searches.annotate(day=TruncDate("at")).values("day").annotate(n=Count("pk"))
                    .order_by("day")],
        "per_officer": list(searches.values(officer=F("actor__username")).annotate(searches=Count("pk"))
                            .order_by("-searches")),
        "warnings": license_warnings(agency),
    }


def platform_overview(*, today: date | None = None) -> list[dict[str, Any]]:
    """Every agency with its license and this month's usage against the quota (operator only)."""
    from agencies.licensing import current_license, searches_this_month

    today = today or timezone.localdate()
    rows = []
    for agency in Agency.objects.order_by("name"):
        granted = current_license(agency, today)
        used = searches_this_month(agency, today)
        quota = granted.plan.monthly_search_quota if granted else 0
        rows.append({"agency": agency, "license": granted, "searches": used, "quota": quota,
                     "share": min(used / quota, 1.0) if quota else 0.0})
    return rows


def revenue_by_month(*, months: int = 12) -> list[dict[str, Any]]:
    """Invoiced totals per month and currency, oldest first (operator only)."""
    rows = (Invoice.objects.values("period", "currency").annotate(total=Sum("total"))
            .order_by("-period", "currency")[:months])
    return list(reversed(rows))

"""Reads of licenses, usage and invoices: the agency admin's and the operator's figures."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from agencies.billing.models import Invoice, UsageEvent, UsageKind
from agencies.tenancy.models import Agency


def month_start(day: date) -> date:
    """The first day of the month of `day`: the period usage is metered and invoiced by."""
    return day.replace(day=1)


def usage_in_month(*, agency: Agency, kind: str, day: date | None = None) -> int:
    """Units of `kind` metered for the agency in the month of `day` (today): the one count that
    the quota, the usage figures and the invoice all use."""
    period = month_start(day or timezone.localdate())
    total = UsageEvent.objects.for_agency(agency).filter(kind=kind, period=period).aggregate(
        n=Sum("quantity"))["n"]
    return int(total or 0)


def invoices_of(*, agency: Agency | None) -> QuerySet[Invoice]:
    """The agency's invoices, newest first, with their lines."""
    return Invoice.objects.for_agency(agency).prefetch_related("lines")


def agency_usage(*, agency: Agency, today: date | None = None) -> dict[str, Any]:
    """Usage of the month so far: searches per day and per officer against the quota."""
    from agencies.billing.licensing import current_license, license_warnings

    today = today or timezone.localdate()
    period = month_start(today)
    searches = UsageEvent.objects.for_agency(agency).filter(kind=UsageKind.SEARCH, period=period)
    granted = current_license(agency, today)
    return {
        "period": period.isoformat(),
        "searches": usage_in_month(agency=agency, kind=UsageKind.SEARCH, day=today),
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
    from agencies.billing.licensing import current_license

    today = today or timezone.localdate()
    rows = []
    for agency in Agency.objects.order_by("name"):
        granted = current_license(agency, today)
        used = usage_in_month(agency=agency, kind=UsageKind.SEARCH, day=today)
        quota = granted.plan.monthly_search_quota if granted else 0
        rows.append({"agency": agency, "license": granted, "searches": used, "quota": quota,
                     "share": min(used / quota, 1.0) if quota else 0.0})
    return rows


def revenue_by_month(*, months: int = 12) -> list[dict[str, Any]]:
    """Invoiced totals per month and currency, oldest first (operator only)."""
    rows = (Invoice.objects.values("period", "currency").annotate(total=Sum("total"))
            .order_by("-period", "currency")[:months])
    return list(reversed(rows))

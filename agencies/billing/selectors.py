"""Reads of licenses, usage and invoices: the agency admin's and the operator's figures."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from agencies.billing.models import (
    Invoice,
    License,
    LicenseStatus,
    OveragePolicy,
    UsageEvent,
    UsageKind,
)
from agencies.tenancy.models import Agency

QUOTA_WARNINGS = (0.8, 1.0)
EXPIRY_WARNING_DAYS = 30


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


def current_license(agency: Agency, today: date | None = None) -> License | None:
    """The license covering today (suspended or not), the latest-starting one if several."""
    today = today or timezone.localdate()
    return (License.objects.filter(agency=agency, starts_on__lte=today, ends_on__gte=today)
            .select_related("plan").order_by("-starts_on").first())


def license_warnings(agency: Agency) -> list[str]:
    """What the agency admin should know now: quota at 80% / 100%, expiry within 30 days."""
    granted = current_license(agency)
    if granted is None:
        return ["Your agency has no active license: searches are refused."]
    warnings = []
    used = usage_in_month(agency=agency, kind=UsageKind.SEARCH)
    quota = granted.plan.monthly_search_quota
    share = used / quota if quota else 1.0
    warn_at, full_at = QUOTA_WARNINGS
    if share >= full_at:
        warnings.append(f"The monthly search quota is used up ({used} of {quota})"
                        + (": further searches are billed." if granted.plan.overage_policy ==
                           OveragePolicy.BILL else ": further searches are refused."))
    elif share >= warn_at:
        warnings.append(f"{used} of {quota} monthly searches used ({share:.0%}).")
    days_left = (granted.ends_on - timezone.localdate()).days
    if days_left <= EXPIRY_WARNING_DAYS:
        warnings.append(f"The license ends on {granted.ends_on} ({days_left} days left).")
    if granted.status == LicenseStatus.SUSPENDED:
        warnings.append("The license is suspended: searches are refused.")
    return warnings


def invoices_of(*, agency: Agency | None) -> QuerySet[Invoice]:
    """The agency's invoices, newest first, with their lines."""
    return Invoice.objects.for_agency(agency).prefetch_related("lines")


def agency_usage(*, agency: Agency, today: date | None = None) -> dict[str, Any]:
    """Usage of the month so far: searches per day and per officer against the quota."""
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


def platform_invoices(*, agency: Agency | None = None, period: date | None = None
                      ) -> QuerySet[Invoice]:
    """Every agency's invoices, newest first, optionally one agency's or one month's (operator
    only: no tenant filter, the operator bills every agency)."""
    invoices = Invoice.objects.select_related("agency").order_by("-period", "agency__name")
    if agency is not None:
        invoices = invoices.filter(agency=agency)
    if period is not None:
        invoices = invoices.filter(period=month_start(period))
    return invoices


def searches_per_day(*, agency: Agency, today: date | None = None) -> list[tuple[date, int]]:
    """Searches metered on every day of the month of `today` (days to come count 0)."""
    today = today or timezone.localdate()
    period = month_start(today)
    counted = dict(UsageEvent.objects.for_agency(agency).filter(kind=UsageKind.SEARCH, period=period)
                   .annotate(day=TruncDate("at")).values_list("day").annotate(n=Sum("quantity")))
    days = calendar.monthrange(period.year, period.month)[1]
    return [(period.replace(day=d), int(counted.get(period.replace(day=d), 0)))
            for d in range(1, days + 1)]


def usage_by_month(*, agency: Agency, months: int = 12, today: date | None = None
                   ) -> list[dict[str, Any]]:
    """The last `months` months, oldest first: searches metered and the invoiced amount (None
    for a month not invoiced yet, as the current one)."""
    period = month_start(today or timezone.localdate())
    periods = []
    for _ in range(months):
        periods.append(period)
        period = month_start(period - timedelta(days=1))
    periods.reverse()
    searches = dict(UsageEvent.objects.for_agency(agency)
                    .filter(kind=UsageKind.SEARCH, period__in=periods)
                    .values_list("period").annotate(n=Sum("quantity")))
    invoices = {inv.period: inv for inv in Invoice.objects.for_agency(agency).filter(period__in=periods)}
    return [{"period": p, "searches": int(searches.get(p, 0)),
             "amount": invoices[p].total if p in invoices else None,
             "currency": invoices[p].currency if p in invoices else ""} for p in periods]

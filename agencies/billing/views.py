"""The agency admin's usage page."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from agencies.billing.selectors import (
    agency_usage,
    invoices_of,
    searches_per_day,
    usage_by_month,
)
from agencies.tenancy.decorators import member_required
from agencies.tenancy.models import Role
from agencies.tenancy.requests import MemberRequest
from portal.charts import column_chart


@member_required(Role.AGENCY_ADMIN)
def usage(request: MemberRequest) -> HttpResponse:
    """The agency admin's usage page: quota, searches on every day of the month and in each of
    the last 12 months, per officer, invoices."""
    per_day = searches_per_day(agency=request.agency)
    months = usage_by_month(agency=request.agency)
    return render(request, "agencies/usage.html", {
        "usage": agency_usage(agency=request.agency), "per_day": per_day, "months": months,
        "day_chart": column_chart([(f"{day.day}", float(n)) for day, n in per_day]),
        "month_chart": column_chart([(f"{m['period']:%b}", float(m["searches"])) for m in months],
                                    bar=36, gap=10),
        "invoices": invoices_of(agency=request.agency)})

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
from portal.charts import column_chart, column_chart_rows


@member_required(Role.AGENCY_ADMIN)
def usage(request: MemberRequest) -> HttpResponse:
    """The agency admin's usage page: quota, searches on every day of the month and in each of
    the last 12 months, per officer, invoices."""
    per_day = searches_per_day(agency=request.agency)
    months = usage_by_month(agency=request.agency)
    days = [(f"{day.day}", float(n)) for day, n in per_day]
    month_values = [(f"{m['period']:%b}", float(m["searches"])) for m in months]
    return render(request, "agencies/usage.html", {
        "usage": agency_usage(agency=request.agency), "per_day": per_day, "months": months,
        "day_chart": column_chart(days),
        "month_chart": column_chart(month_values, bar=36, gap=10),
        # A phone draws the same figures in rows of fewer, wider columns with larger lettering.
        "day_rows": column_chart_rows(days, per_row=11, bar=19, gap=6, **PHONE_CHART),
        "month_rows": column_chart_rows(month_values, per_row=6, bar=36, gap=11, **PHONE_CHART),
        "invoices": invoices_of(agency=request.agency)})


# 11 days or 6 months make a row about 330 units wide: drawn near 1:1 in a 390 px phone's card,
# so its 13-unit lettering reads as 13 px (the CSS of .chart--phone sets the same size).
PHONE_CHART = {"height": 90, "text": 13}

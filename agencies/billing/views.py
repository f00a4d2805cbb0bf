"""The agency admin's usage page."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from agencies.billing.selectors import agency_usage, invoices_of
from agencies.tenancy.decorators import member_required
from agencies.tenancy.models import Role
from agencies.tenancy.requests import MemberRequest
from portal.charts import bars


@member_required(Role.AGENCY_ADMIN)
def usage(request: MemberRequest) -> HttpResponse:
    """The agency admin's usage page: quota, searches per day and per officer, invoices."""
    figures = agency_usage(agency=request.agency)
    per_day = [(row["day"][8:], float(row["searches"])) for row in figures["per_day"]]
    return render(request, "agencies/usage.html", {
        "usage": figures, "day_bars": bars(per_day),
        "invoices": invoices_of(agency=request.agency)})

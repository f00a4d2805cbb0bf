"""The oversight report of an agency's searches, for its auditors: it reads search data, so it
lives in search, which may import agencies (agencies never imports search)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from agencies.tenancy.decorators import member_required
from agencies.tenancy.models import AUDIT_READERS
from agencies.tenancy.requests import MemberRequest


@member_required(*AUDIT_READERS)
def audit_reports(request: MemberRequest) -> HttpResponse:
    from search.selectors import oversight_report

    year = _year(request.GET.get("year"))
    report: dict[str, Any] = oversight_report(agency=request.agency, year=year)
    top = max([row["count"] for row in report["per_month"]] or [1])
    return render(request, "agencies/audit_reports.html",
                  {"report": report, "top": top, "years": range(timezone.now().year, 2024, -1)})


def _year(value: str | None) -> int:
    try:
        return int(value) if value else timezone.now().year
    except ValueError:
        return timezone.now().year

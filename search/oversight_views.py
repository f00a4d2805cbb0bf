"""The oversight report of an agency's searches, for its auditors: it reads search data, so it
lives in search, which may import agencies (agencies never imports search)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone

from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from agencies.tenancy.decorators import member_required
from agencies.tenancy.models import AUDIT_READERS
from agencies.tenancy.requests import MemberRequest
from portal.http import attachment
from search.oversight_files import oversight_csv, oversight_pdf


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


def _asked_year(request: MemberRequest) -> int | None:
    """The year a download asks for (this year if none); None for a typo, which is refused rather
    than answered with another year's figures."""
    value = request.GET.get("year", "").strip()
    if not value:
        return timezone.now().year
    return int(value) if value.isascii() and value.isdigit() and len(value) == 4 else None


def _exported(request: MemberRequest, year: int, kind: str) -> dict[str, Any]:
    """The year's report for a download, whose export is recorded like the audit CSV's."""
    from search.selectors import oversight_report

    audit_record(action=AuditAction.EXPORT, agency=request.agency, actor=request.user,
                 details={"export": kind, "year": year})
    return oversight_report(agency=request.agency, year=year)


BAD_YEAR = "Give the year as four digits, e.g. ?year=2026."


@member_required(*AUDIT_READERS)
def audit_reports_csv(request: MemberRequest) -> HttpResponse:
    year = _asked_year(request)
    if year is None:
        return HttpResponseBadRequest(BAD_YEAR, content_type="text/plain")
    report = _exported(request, year, "oversight_csv")
    return attachment(oversight_csv(report), content_type="text/csv",
                      filename=f"casebound-oversight-{year}.csv")


@member_required(*AUDIT_READERS)
def audit_reports_pdf(request: MemberRequest) -> HttpResponse:
    year = _asked_year(request)
    if year is None:
        return HttpResponseBadRequest(BAD_YEAR, content_type="text/plain")
    report = _exported(request, year, "oversight_pdf")
    return attachment(oversight_pdf(report, request.agency), content_type="application/pdf",
                      filename=f"casebound-oversight-{year}.pdf")

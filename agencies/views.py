"""The auditor's pages: the audit trail with filters, its CSV export, and oversight reports."""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from agencies.audit import audit_record
from agencies.decorators import member_required
from agencies.filters import AuditEventFilter
from agencies.models import AuditAction, Role
from agencies.selectors import agency_members_with_roles, audit_events
from agencies.serializers import CSV_HEADER, csv_row
from agencies.services import account_unlock, locked_usernames, training_record

AUDIT_READERS = (Role.AUDITOR, Role.AGENCY_ADMIN)


def _filtered(request: HttpRequest) -> AuditEventFilter:
    agency = request.agency  # type: ignore[attr-defined]
    return AuditEventFilter(request.GET or None, queryset=audit_events(agency=agency))


@member_required(*AUDIT_READERS)
def audit_list(request: HttpRequest) -> HttpResponse:
    events = _filtered(request)
    page = Paginator(events.qs.select_related("actor"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "agencies/audit_list.html",
                  {"filter": events, "page": page, "query": query.urlencode()})


class _Echo:
    def write(self, value: str) -> str:
        return value


@member_required(*AUDIT_READERS)
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    events = _filtered(request)
    audit_record(action=AuditAction.EXPORT, agency=request.agency,  # type: ignore[attr-defined]
                 actor=request.user, details={"export": "audit_csv", "filters": request.GET.dict()})
    writer = csv.writer(_Echo())
    rows = (writer.writerow(row) for row in
            [CSV_HEADER, *(csv_row(e) for e in events.qs.order_by("seq").iterator())])
    response = StreamingHttpResponse(rows, content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="casebound-audit.csv"'
    return response


@member_required(*AUDIT_READERS)
def audit_reports(request: HttpRequest) -> HttpResponse:
    from search.selectors import oversight_report

    year = _year(request.GET.get("year"))
    report: dict[str, Any] = oversight_report(agency=request.agency, year=year)  # type: ignore[attr-defined]
    top = max([row["count"] for row in report["per_month"]] or [1])
    return render(request, "agencies/audit_reports.html",
                  {"report": report, "top": top, "years": range(timezone.now().year, 2024, -1)})


def _year(value: str | None) -> int:
    try:
        return int(value) if value else timezone.now().year
    except ValueError:
        return timezone.now().year


@member_required(Role.AGENCY_ADMIN)
def people(request: HttpRequest) -> HttpResponse:
    """The agency admin's list of accounts: role, training, second factor, lockout."""
    members = list(agency_members_with_roles(agency=request.agency))  # type: ignore[attr-defined]
    locked = locked_usernames([m.username for m in members])
    return render(request, "agencies/people.html", {"members": members, "locked": locked})


@require_POST
@member_required(Role.AGENCY_ADMIN)
def person_unlock(request: HttpRequest, pk: int) -> HttpResponse:
    user = _member(request, pk)
    account_unlock(admin=request.user, user=user)
    messages.success(request, f"{user.get_username()} is unlocked.")
    return redirect("people")


@require_POST
@member_required(Role.AGENCY_ADMIN)
def person_training(request: HttpRequest, pk: int) -> HttpResponse:
    user = _member(request, pk)
    try:
        valid_until = date.fromisoformat(request.POST.get("valid_until", ""))
    except ValueError:
        messages.error(request, "Give the date until which the training is valid.")
    else:
        training_record(admin=request.user, user=user, valid_until=valid_until)
        messages.success(request, f"Training of {user.get_username()} recorded until {valid_until}.")
    return redirect("people")


def _member(request: HttpRequest, pk: int) -> Any:
    return get_object_or_404(agency_members_with_roles(agency=request.agency), pk=pk)  # type: ignore[attr-defined]

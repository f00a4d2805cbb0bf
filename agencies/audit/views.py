"""The agency auditor's pages: the audit trail and its export."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render

from agencies.audit.filters import AuditEventFilter
from agencies.audit.models import AuditAction, AuditEvent
from agencies.audit.selectors import audit_details, audit_events, audit_glance
from agencies.audit.serializers import CSV_HEADER, csv_row
from agencies.audit.trail import audit_record
from agencies.tenancy.decorators import member_required
from agencies.tenancy.models import AUDIT_READERS, Role
from agencies.tenancy.requests import MemberRequest
from agencies.tenancy.selectors import has_role
from portal.csv_export import csv_writer
from portal.http import private_download
from portal.listing import listing


def _filtered(request: MemberRequest) -> AuditEventFilter:
    agency = request.agency
    return AuditEventFilter(request.GET or None, queryset=audit_events(agency=agency))


def _events(events: AuditEventFilter) -> QuerySet[AuditEvent]:
    """The filtered events; none when the filter is wrong (its errors are shown instead)."""
    return events.qs if not events.is_bound or events.is_valid() else events.queryset.none()


AUDIT_COLUMNS = [("#", "seq"), ("When", ""), ("Who", "who"), ("Action", "action"),
                 ("Outcome", ""), ("Object", ""), ("From", ""), ("Details", "")]


@member_required(*AUDIT_READERS)
def audit_list(request: MemberRequest) -> HttpResponse:
    events = listing(request, AuditEventFilter,
                     audit_events(agency=request.agency).select_related("actor"), AUDIT_COLUMNS)
    full = has_role(request.user, Role.AUDITOR)
    for event in events.page.object_list:
        event.shown_details = audit_details(event, full=full)  # type: ignore[attr-defined]
        event.glance, event.more = audit_glance(event.shown_details)  # type: ignore[attr-defined]
    return render(request, "agencies/audit_list.html", {"listing": events},
                  status=400 if events.invalid else 200)


class _Echo:
    def write(self, value: str) -> str:
        return value


@member_required(*AUDIT_READERS)
def audit_export(request: MemberRequest) -> HttpResponse | StreamingHttpResponse:
    events = _filtered(request)
    if events.is_bound and not events.is_valid():  # an empty file would read as "no events"
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in events.errors.items())
        return HttpResponseBadRequest(f"The filter is not right: {problems}",
                                      content_type="text/plain")
    audit_record(action=AuditAction.EXPORT, agency=request.agency,
                 actor=request.user, details={"export": "audit_csv", "filters": request.GET.dict()})
    writer, full = csv_writer(_Echo()), has_role(request.user, Role.AUDITOR)
    rows = (writer.writerow(row) for row in
            [CSV_HEADER, *(csv_row(e, full=full) for e in _events(events).order_by("seq").iterator())])
    return private_download(StreamingHttpResponse(rows, content_type="text/csv"),
                            "casebound-audit.csv")

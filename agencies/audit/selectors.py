"""Reads of the audit trail."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from agencies.audit.models import AuditEvent
from agencies.tenancy.models import Agency


def audit_events(*, agency: Agency | None) -> QuerySet[AuditEvent]:
    """The agency's audit trail, newest first."""
    return AuditEvent.objects.for_agency(agency).order_by("-at", "-seq")


# An agency admin browses the galleries, so these ids in a case's events would name who was a
# candidate or a lead in which case, which only those on the case and the auditors may know.
CASE_LINKS = frozenset({"face_id", "subject_id", "gallery_id", "subject_reference"})


def audit_details(event: AuditEvent, *, full: bool) -> dict[str, Any]:
    """An event's details as its reader may see them: auditors everything; an agency admin a
    case's events without the enrolled face, subject and gallery they point to. The chain keeps
    every detail; this is only what is shown."""
    details: dict[str, Any] = event.details or {}
    if full or not ({"case_number", "search_id"} & details.keys()):
        return details
    return {key: value for key, value in details.items() if key not in CASE_LINKS}

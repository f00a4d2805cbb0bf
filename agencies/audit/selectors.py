"""Reads of the audit trail."""

from __future__ import annotations

from django.db.models import QuerySet

from agencies.audit.models import AuditEvent
from agencies.tenancy.models import Agency


def audit_events(*, agency: Agency | None) -> QuerySet[AuditEvent]:
    """The agency's audit trail, newest first."""
    return AuditEvent.objects.for_agency(agency).order_by("-at", "-seq")

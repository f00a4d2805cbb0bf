"""API shapes of the audit trail."""

import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agencies.audit.models import AuditEvent
from agencies.audit.selectors import audit_details


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    """An event; `details` as the reader may see them (the view says whether in `full`)."""

    actor = serializers.CharField(source="actor_name")
    details = serializers.SerializerMethodField()

    class Meta:
        model = AuditEvent
        fields = ["id", "seq", "at", "actor", "action", "outcome", "object_type", "object_id",
                  "ip", "details", "request_id", "prev_hash", "hash"]


    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_details(self, event: AuditEvent) -> dict[str, Any]:
        return audit_details(event, full=self.context.get("full_details", False))


def csv_row(event: AuditEvent, *, full: bool) -> list[Any]:
    """One event as a CSV row, in the column order of CSV_HEADER; details as JSON."""
    return [event.seq, event.at.isoformat(), event.actor_name, event.action, event.outcome,
            event.object_type, event.object_id, event.ip or "",
            json.dumps(audit_details(event, full=full), sort_keys=True), event.hash]


CSV_HEADER = ["seq", "at_utc", "actor", "action", "outcome", "object_type", "object_id", "ip",
              "details", "hash"]

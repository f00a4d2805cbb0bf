"""API shapes of the audit trail."""

from typing import Any

from rest_framework import serializers

from agencies.audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor = serializers.CharField(source="actor_name")

    class Meta:
        model = AuditEvent
        fields = ["id", "seq", "at", "actor", "action", "outcome", "object_type", "object_id",
                  "ip", "details", "prev_hash", "hash"]


def csv_row(event: AuditEvent) -> list[Any]:
    """One event as a CSV row, in the column order of CSV_HEADER."""
    return [event.seq, event.at.isoformat(), event.actor_name, event.action, event.outcome,
            event.object_type, event.object_id, event.ip or "", event.details, event.hash]


CSV_HEADER = ["seq", "at_utc", "actor", "action", "outcome", "object_type", "object_id", "ip",
              "details", "hash"]

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


# What an auditor reads first in an event's details, in this order; the rest wait behind "more".
GLANCE_KEYS = ("case_number", "decision", "reason", "code", "message", "error", "role", "username",
               "image", "export")
GLANCE_CHARS = 40  # about one line of the details column at 1,366 px


def audit_glance(details: dict[str, Any]) -> tuple[list[tuple[str, str]], bool]:
    """The `key: value` pairs of `details` (already filtered for the reader) that fit one line,
    the telling keys first, the first value shortened at a word if it must; and whether the
    glance leaves anything out."""
    keys = sorted(details, key=lambda k: GLANCE_KEYS.index(k) if k in GLANCE_KEYS else len(GLANCE_KEYS))
    glance: list[tuple[str, str]] = []
    room = GLANCE_CHARS
    for key in keys:
        value = str(details[key])
        if len(key) + 2 + len(value) > room:
            if glance:
                break
            value = _shortened(value, max(room - len(key) - 3, 8))
        glance.append((key, value))
        room -= len(key) + 4 + len(value)  # "key: value; "
    whole = all(value == str(details[key]) for key, value in glance)
    return glance, len(glance) < len(details) or not whole


def _shortened(text: str, limit: int) -> str:
    cut = text[:limit]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"

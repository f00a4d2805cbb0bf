"""The tamper-evident audit trail: record events into per-agency hash chains, and verify them.

Every security-relevant service calls `audit_record` inside its own transaction, so an action and
its event commit together or not at all. Refusals are recorded on their own, since the refused
action writes nothing else.
"""

from __future__ import annotations

import hashlib
import json
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from agencies.audit.models import AuditChainHead, AuditEvent, AuditOutcome
from agencies.tenancy.models import Agency
from portal import logs
from portal.db import scope
from portal.db.scope import Scope

GENESIS = "0" * 64
PLATFORM_CHAIN = 0
# The client address of the request being served; set by AuditContextMiddleware.
request_ip: ContextVar[str | None] = ContextVar("request_ip", default=None)


def _payload(event: AuditEvent) -> dict[str, Any]:
    payload = {
        "chain": event.chain, "seq": event.seq, "at": event.at.isoformat(),
        "agency": event.agency_id, "actor": event.actor_id, "actor_name": event.actor_name,
        "action": event.action, "outcome": event.outcome, "object_type": event.object_type,
        "object_id": event.object_id, "ip": event.ip, "details": event.details,
        "prev_hash": event.prev_hash,
    }
    # Hashed only when present, so that events written before the field existed still verify.
    if event.request_id:
        payload["request_id"] = event.request_id
    return payload


def event_digest(event: AuditEvent) -> str:
    """SHA-256 of the event's canonical JSON, which includes the previous event's hash."""
    canonical = json.dumps(_payload(event), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _describe(obj: models.Model | None) -> tuple[str, str]:
    if obj is None:
        return "", ""
    return obj._meta.model_name or "", str(obj.pk)


@transaction.atomic
def audit_record(*, action: str, agency: Agency | None, actor: Any = None,
                 obj: models.Model | None = None, outcome: str = AuditOutcome.SUCCESS,
                 details: dict[str, Any] | None = None, actor_name: str = "") -> AuditEvent:
    """Append one event to its agency's chain (the platform chain when there is no agency)."""
    chain = agency.pk if agency else PLATFORM_CHAIN
    # Events are written in their chain's own row scope, whoever records them: a sign-in failure
    # belongs to the account's agency, a public opt-out to the platform chain.
    with scope.rows(Scope(agency_id=agency.pk) if agency else scope.EVERYTHING):
        return _append(chain, action=action, agency=agency, actor=actor, obj=obj,
                       outcome=outcome, details=details, actor_name=actor_name)


def _append(chain: int, *, action: str, agency: Agency | None, actor: Any,
            obj: models.Model | None, outcome: str, details: dict[str, Any] | None,
            actor_name: str) -> AuditEvent:
    AuditChainHead.objects.bulk_create([AuditChainHead(chain=chain)], ignore_conflicts=True)
    head = AuditChainHead.objects.select_for_update().get(chain=chain)  # serialises appends
    object_type, object_id = _describe(obj)
    user = actor if getattr(actor, "pk", None) else None
    event = AuditEvent(
        chain=chain, seq=head.seq + 1, at=timezone.now(), agency=agency, actor=user,
        actor_name=actor_name or (user.get_username() if user else ""), action=action,
        outcome=outcome, object_type=object_type, object_id=object_id, ip=request_ip.get(),
        details=details or {}, request_id=logs.request_id.get() or "", prev_hash=head.hash)
    event.hash = event_digest(event)
    event.save(force_insert=True)
    head.seq, head.hash = event.seq, event.hash
    head.save(update_fields=["seq", "hash"])
    return event


@dataclass
class Break:
    chain: int
    seq: int
    event_id: int | None
    reason: str
    place: str = ""  # overrides the default description of where the break is

    def __str__(self) -> str:
        where = self.place or (f"event {self.event_id}" if self.event_id else "after the last event")
        return f"chain {self.chain}, seq {self.seq} ({where}): {self.reason}"


def verify_chain(chain: int) -> Break | None:
    """The first broken link of one chain, or None when the chain is whole."""
    previous_hash, previous_at, expected = GENESIS, None, 1
    for event in AuditEvent.objects.filter(chain=chain).order_by("seq").iterator():
        problem = _check(event, expected, previous_hash, previous_at)
        if problem:
            return Break(chain, event.seq, event.pk, problem)
        previous_hash, previous_at, expected = event.hash, event.at, expected + 1
    head = AuditChainHead.objects.filter(chain=chain).first()
    if head and (head.seq != expected - 1 or head.hash != previous_hash):
        return Break(chain, expected, None, f"{head.seq - expected + 1} event(s) missing at the "
                     "end of the chain (the chain head records more than the table holds)")
    return None


def _check(event: AuditEvent, expected: int, previous_hash: str, previous_at: Any) -> str:
    if event.seq != expected:
        return f"event(s) {expected}..{event.seq - 1} are missing before this one"
    if event.prev_hash != previous_hash:
        return "does not link to the event before it"
    if event_digest(event) != event.hash:
        return "its content was altered after it was written"
    if previous_at is not None and event.at < previous_at:
        return "it is out of order: it is dated before the event before it"
    return ""


def verify_all() -> list[Break]:
    """The first break of every chain that has one."""
    chains = set(AuditChainHead.objects.values_list("chain", flat=True))
    chains |= set(AuditEvent.objects.values_list("chain", flat=True).distinct())
    return [b for b in (verify_chain(c) for c in sorted(chains)) if b is not None]

"""Retention: what each agency keeps, for how long, and the daily purge that enforces it."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import (
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
)
from django.utils import timezone

from agencies.audit.models import AuditAction, AuditOutcome
from agencies.audit.trail import audit_record
from agencies.tenancy.models import Agency, Role
from agencies.tenancy.permissions import ensure_acts_for
from portal.changes import clean_or_refuse, fields_apply
from portal.errors import ServiceError
from search.models import Candidate, CandidateStatus, Face, RetentionPolicy, Search
from search.selectors import retention_of
from search.services.erasure import faces_remove

logger = logging.getLogger(__name__)
UNCONFIRMED = (CandidateStatus.UNREVIEWED, CandidateStatus.AWAITING_SECOND,
               CandidateStatus.AWAITING_SUPERVISOR,
               CandidateStatus.NOT_A_MATCH, CandidateStatus.DISPUTED)


@transaction.atomic
def retention_update(*, agency: Agency, actor: Any, **changes: Any) -> RetentionPolicy:
    """Change the agency's retention schedule (agency admin); audited before and after."""
    ensure_acts_for(actor, agency, Role.AGENCY_ADMIN, code="agency_admin_required",
                    message="Only the agency admin changes retention.")
    policy = retention_of(agency)
    before = fields_apply(policy, RETENTION_FIELDS, changes)
    clean_or_refuse(policy, code="invalid_retention", exclude=["agency"])
    if policy.probe_days_after_close > policy.probe_max_days:
        raise ServiceError("invalid_retention", "Probes cannot be kept longer after a case closes "
                           "than their maximum retention.")
    policy.save()
    audit_record(action=AuditAction.SETTINGS_CHANGED, agency=agency, actor=actor, obj=policy,
                 details={"retention_before": before,
                          "retention_after": {n: getattr(policy, n) for n in RETENTION_FIELDS}})
    return policy


RETENTION_FIELDS = ("probe_days_after_close", "probe_max_days", "unconfirmed_candidate_days")


@dataclass
class PurgeReport:
    """What a purge removed (or, in a dry run, would remove), per agency slug and kind."""

    counts: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    failed: list[str] = field(default_factory=list)  # slugs of agencies whose purge failed

    def add(self, agency: Agency, kind: str, count: int) -> None:
        if count:
            self.counts[agency.slug][kind] = count


def _expired_probes(agency: Agency, policy: RetentionPolicy, now: Any) -> QuerySet[Search]:
    after_close = now - timedelta(days=policy.probe_days_after_close)
    oldest = now - timedelta(days=policy.probe_max_days)
    return (Search.objects.for_agency(agency).filter(probe_purged_at__isnull=True)
            .filter(Q(case__closed_at__lt=after_close) | Q(created_at__lt=oldest)))


def _expired_candidates(agency: Agency, policy: RetentionPolicy, now: Any) -> QuerySet[Candidate]:
    cutoff = now - timedelta(days=policy.unconfirmed_candidate_days)
    return Candidate.objects.for_agency(agency).filter(status__in=UNCONFIRMED,
                                                       search__created_at__lt=cutoff)


def _expired_faces(agency: Agency, now: Any) -> QuerySet[Face]:
    kept_for = ExpressionWrapper(Value(timedelta(days=1)) * F("gallery__retention_days"),
                                 output_field=DurationField())
    return (Face.objects.for_agency(agency).filter(gallery__retention_days__isnull=False)
            .annotate(expires=ExpressionWrapper(F("created_at") + kept_for,
                                                output_field=DateTimeField()))
            .filter(expires__lt=now))


def purge_expired(*, dry_run: bool = False, now: Any = None) -> PurgeReport:
    """Apply every agency's schedule; each agency's purge is one transaction and one audit event,
    and one agency's failure (a bad stored value, a database error) stops no other agency's."""
    now = now or timezone.now()
    report = PurgeReport()
    for agency in Agency.objects.all():  # a platform job: every agency, each on its own
        try:
            with transaction.atomic():
                counts = _purge_agency(agency, now, dry_run)
        except Exception as exc:  # noqa: BLE001 - logged and audited; the next agency must still run
            _purge_failed(agency, exc)
            report.failed.append(agency.slug)
            continue
        for kind, count in counts.items():
            report.add(agency, kind, count)
    return report


def _purge_agency(agency: Agency, now: Any, dry_run: bool) -> dict[str, int]:
    policy = retention_of(agency)
    probes = _expired_probes(agency, policy, now)
    candidates = _expired_candidates(agency, policy, now)
    faces = _expired_faces(agency, now)
    counts = {"probes": probes.count(), "candidates": candidates.count(), "faces": faces.count()}
    if not dry_run and any(counts.values()):
        _purge(agency, probes, candidates, faces, counts)
    return counts


def _purge_failed(agency: Agency, exc: Exception) -> None:
    logger.exception("Retention purge of agency %s failed; the other agencies are purged", agency.slug)
    audit_record(action=AuditAction.PURGE, agency=agency, outcome=AuditOutcome.FAILURE,
                 actor_name="system", details={"error": type(exc).__name__, "message": str(exc)[:300]})


@transaction.atomic
def _purge(agency: Agency, probes: QuerySet[Search], candidates: QuerySet[Candidate],
           faces: QuerySet[Face], counts: dict[str, int]) -> None:
    files = []
    for search in probes:
        files += [f for f in (search.probe, search.probe_face) if f]
    probes.update(probe="", probe_face="", probe_purged_at=timezone.now())
    candidates.delete()
    faces_remove(faces, reason="Removed: retention period ended")
    transaction.on_commit(lambda: [f.storage.delete(f.name) for f in files])
    audit_record(action=AuditAction.PURGE, agency=agency, details=counts, actor_name="system")

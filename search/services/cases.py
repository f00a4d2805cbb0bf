"""Opening, deciding and staffing cases, and the rule that a search needs a live, assigned case."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from agencies.models import Agency, Role
from agencies.selectors import acting_agency, has_role
from portal.errors import ServiceError
from search.models import Case, CaseStatus, OffenceCategory

CASE_AUTHORIZATION_DAYS = 30
SEARCH_PERMISSION = "search.search_in_case"


@transaction.atomic
def case_open(*, agency: Agency, actor: Any, case_number: str, offence_category: str,
              justification: str = "", authorization_reference: str = "") -> Case:
    """Open a case awaiting a supervisor's approval; the officer who opens it is assigned to it."""
    if offence_category not in OffenceCategory.values:
        raise ServiceError("invalid_offence_category", f"Unknown offence category {offence_category!r}.")
    try:
        with transaction.atomic():
            case = Case.objects.create(
                agency=agency, case_number=case_number.strip(), offence_category=offence_category,
                justification=justification, authorization_reference=authorization_reference,
                opened_by=actor,
            )
    except IntegrityError:
        raise ServiceError("duplicate_case_number",
                           f"Case {case_number} already exists in your agency.", status=409) from None
    assign_perm(SEARCH_PERMISSION, actor, case)
    return case


def _require_supervisor(case: Case, actor: Any) -> None:
    if acting_agency(actor) != case.agency or not has_role(actor, Role.SUPERVISOR):
        raise ServiceError("supervisor_required", "Only a supervisor of this agency can do this.",
                           status=403)


@transaction.atomic
def case_approve(*, case: Case, actor: Any, reason: str = "") -> Case:
    """Record a supervisor's authorization; it lasts a limited time."""
    _require_supervisor(case, actor)
    now = timezone.now()
    case.status = CaseStatus.APPROVED
    case.decided_by, case.decided_at, case.decision_reason = actor, now, reason
    case.expires_at = now + timedelta(days=CASE_AUTHORIZATION_DAYS)
    case.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "expires_at"])
    return case


@transaction.atomic
def case_reject(*, case: Case, actor: Any, reason: str) -> Case:
    """Record a supervisor's refusal, with the reason."""
    _require_supervisor(case, actor)
    case.status = CaseStatus.REJECTED
    case.decided_by, case.decided_at, case.decision_reason = actor, timezone.now(), reason
    case.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    return case


@transaction.atomic
def case_assign(*, case: Case, actor: Any, user: Any) -> Case:
    """Let an officer of the same agency search in this case."""
    _require_supervisor(case, actor)
    if acting_agency(user) != case.agency:
        raise ServiceError("not_found", "No such user in your agency.", status=404)
    assign_perm(SEARCH_PERMISSION, user, case)
    return case


def ensure_case_searchable(*, case: Case, user: Any) -> None:
    """Refuse, with the reason, a search in a case that is not approved, expired or not assigned."""
    if case.status != CaseStatus.APPROVED:
        raise ServiceError("case_not_approved", f"Case {case.case_number} is "
                           f"{case.get_status_display().lower()}; a supervisor must approve it "
                           "before anyone can search in it.", status=409)
    if case.expires_at is not None and case.expires_at <= timezone.now():
        raise ServiceError("authorization_expired", f"The authorization for case {case.case_number}"
                           " has expired. Ask a supervisor to renew it.", status=409)
    if not user.has_perm(SEARCH_PERMISSION, case):
        raise ServiceError("not_assigned", f"You are not assigned to case {case.case_number}. "
                           "Ask a supervisor to assign you.", status=403)

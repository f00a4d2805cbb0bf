"""Opening, deciding and staffing cases, and the rule that a search needs a live, assigned case in an
allowed offence category. Every step is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm

from agencies.accounts.selectors import account_refusal
from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from agencies.tenancy.models import INVESTIGATORS, Agency, Role
from agencies.tenancy.permissions import ensure_acts_for
from agencies.tenancy.selectors import acting_agency, has_role
from portal.errors import ServiceError
from search.models import Case, CaseStatus, OffenceCategory
from search.selectors import policy_of

SEARCH_PERMISSION = "search.search_in_case"


def case_audit_details(case: Case, **extra: Any) -> dict[str, Any]:
    """What every case-related audit event records of its case."""
    return {"case_id": case.pk, "case_number": case.case_number,
            "offence_category": case.offence_category, **extra}


def _ensure_offence_allowed(agency: Agency, offence_category: str) -> None:
    if offence_category not in policy_of(agency).allowed_offences:
        label = OffenceCategory(offence_category).label if offence_category in OffenceCategory.values \
            else offence_category
        raise ServiceError("offence_not_allowed", f"Your agency's policy does not allow face "
                           f"searches for {label.lower()}. Only serious offences listed in the "
                           "policy qualify.", status=403)


@transaction.atomic
def case_open(*, agency: Agency, actor: Any, case_number: str, offence_category: str,
              justification: str = "", authorization_reference: str = "") -> Case:
    """Open a case awaiting a supervisor's approval; the officer who opens it is assigned to it."""
    ensure_acts_for(actor, agency, Role.OFFICER, Role.SUPERVISOR, code="investigator_role_required",
                    message="Only officers and supervisors of this agency open cases.")
    if offence_category not in OffenceCategory.values:
        raise ServiceError("invalid_offence_category", f"Unknown offence category {offence_category!r}.")
    _ensure_offence_allowed(agency, offence_category)
    if not justification.strip():  # the authorization on record says why, or there is none
        raise ServiceError("justification_required", "Say why a face search is needed in this case.")
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
    audit_record(action=AuditAction.CASE_OPENED, agency=agency, actor=actor, obj=case,
                 details=case_audit_details(case, justification=justification,
                                       authorization_reference=authorization_reference))
    return case


def _require_supervisor(case: Case, actor: Any) -> None:
    ensure_acts_for(actor, case.agency, Role.SUPERVISOR, code="supervisor_required",
                    message="Only a supervisor of this agency can do this.")


def _require_pending(case: Case) -> None:
    # Locked until the decision commits: two supervisors deciding at once cannot both succeed.
    case.status = Case.objects.select_for_update().values_list("status", flat=True).get(pk=case.pk)
    if case.status != CaseStatus.PENDING:
        raise ServiceError("case_already_decided", f"Case {case.case_number} is already "
                           f"{case.get_status_display().lower()}.", status=409)


@transaction.atomic
def case_approve(*, case: Case, actor: Any, reason: str = "") -> Case:
    """Record a supervisor's authorization; it lasts as long as the agency's policy says."""
    _require_supervisor(case, actor)
    _require_pending(case)
    if case.opened_by_id == actor.pk:
        raise ServiceError("self_approval", "You opened this case; another supervisor must approve "
                           "it.", status=403)
    now = timezone.now()
    case.status = CaseStatus.APPROVED
    case.decided_by, case.decided_at, case.decision_reason = actor, now, reason
    case.expires_at = now + timedelta(days=policy_of(case.agency).authorization_days)
    case.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "expires_at"])
    audit_record(action=AuditAction.CASE_APPROVED, agency=case.agency, actor=actor, obj=case,
                 details=case_audit_details(case, reason=reason, expires_at=case.expires_at.isoformat()))
    return case


@transaction.atomic
def case_reject(*, case: Case, actor: Any, reason: str) -> Case:
    """Record a supervisor's refusal, with the reason."""
    _require_supervisor(case, actor)
    _require_pending(case)
    if not reason.strip():
        raise ServiceError("reason_required", "Say why the case is rejected.")
    case.status = CaseStatus.REJECTED
    case.decided_by, case.decided_at, case.decision_reason = actor, timezone.now(), reason
    case.save(update_fields=["status", "decided_by", "decided_at", "decision_reason"])
    audit_record(action=AuditAction.CASE_REJECTED, agency=case.agency, actor=actor, obj=case,
                 details=case_audit_details(case, reason=reason))
    return case


@transaction.atomic
def case_assign(*, case: Case, actor: Any, user: Any) -> Case:
    """Let an officer or supervisor of the same agency search in this case (and see its results)."""
    _require_supervisor(case, actor)
    if user.pk == actor.pk and actor.pk not in (case.decided_by_id, case.opened_by_id):
        # Otherwise any supervisor could open any case's results alone, with one request.
        raise ServiceError("self_assignment", f"You have no part in case {case.case_number}. Ask "
                           "the supervisor who approved it, or another supervisor, to assign you.",
                           status=403)
    if acting_agency(user) != case.agency:
        raise ServiceError("not_found", "No such user in your agency.", status=404)
    if not has_role(user, *INVESTIGATORS):
        raise ServiceError("not_an_investigator", "Only officers and supervisors can be assigned "
                           "to a case.")
    assign_perm(SEARCH_PERMISSION, user, case)
    audit_record(action=AuditAction.OFFICER_ASSIGNED, agency=case.agency, actor=actor, obj=case,
                 details=case_audit_details(case, assigned=user.get_username()))
    return case


def cases_expire() -> int:
    """Mark approved cases whose authorization ran out as expired; audit each. Run hourly."""
    expired = 0
    for case in Case.objects.filter(status=CaseStatus.APPROVED, expires_at__lte=timezone.now()):
        with transaction.atomic():
            if Case.objects.filter(pk=case.pk, status=CaseStatus.APPROVED).update(
                    status=CaseStatus.EXPIRED):
                audit_record(action=AuditAction.CASE_EXPIRED, agency=case.agency, obj=case,
                             details=case_audit_details(case, expired_at=case.expires_at.isoformat()
                                                   if case.expires_at else None))
                expired += 1
    return expired


def ensure_case_searchable(*, case: Case, user: Any) -> None:
    """Refuse, with the reason, a search by an account that may not search now, or in a case that
    is not approved, has expired, is in an offence category the policy does not allow, or that the
    user is not assigned to. Run when a search is asked for and again when a worker claims it."""
    _ensure_may_search(user, case.agency)
    expired = case.status == CaseStatus.EXPIRED or (
        case.status == CaseStatus.APPROVED and case.expires_at is not None
        and case.expires_at <= timezone.now())
    if case.status == CaseStatus.CLOSED:
        raise ServiceError("case_closed", f"Case {case.case_number} is closed: no one can search "
                           "in it any more. Open a new case if the investigation needs one.",
                           status=409)
    if expired:
        raise ServiceError("authorization_expired", f"The authorization for case {case.case_number}"
                           " has expired. Ask a supervisor to renew it.", status=409)
    if case.status != CaseStatus.APPROVED:
        raise ServiceError("case_not_approved", f"Case {case.case_number} is "
                           f"{case.get_status_display().lower()}; a supervisor must approve it "
                           "before anyone can search in it.", status=409)
    _ensure_offence_allowed(case.agency, case.offence_category)
    if not user.has_perm(SEARCH_PERMISSION, case):
        raise ServiceError("not_assigned", f"You are not assigned to case {case.case_number}. "
                           "Ask a supervisor to assign you.", status=403)


def _ensure_may_search(user: Any, agency: Agency) -> None:
    refusal = account_refusal(user)  # disabled, training lapsed, role awaiting approval
    if refusal:
        raise ServiceError("account_unusable", refusal, status=403)
    ensure_acts_for(user, agency, *INVESTIGATORS, code="investigator_role_required",
                    message="Only officers and supervisors of this agency search in its cases.")


@transaction.atomic
def case_close(*, case: Case, actor: Any) -> Case:
    """Close a case: no more searches; its probes' retention clock starts."""
    ensure_acts_for(actor, case.agency, *Role.values, code="not_allowed",
                    message="Only members of this agency can close its cases.")
    if not (has_role(actor, Role.SUPERVISOR) or actor.pk == case.opened_by_id):
        raise ServiceError("not_allowed", "Only the officer who opened the case or a supervisor "
                           "can close it.", status=403)
    # Locked until committed: two closes at once write one event, and a search storing its
    # results (which locks the case too) finishes before the case closes or not at all.
    case.status = Case.objects.select_for_update().values_list("status", flat=True).get(pk=case.pk)
    if case.status == CaseStatus.CLOSED:
        raise ServiceError("case_closed", f"Case {case.case_number} is already closed.", status=409)
    case.status, case.closed_at, case.closed_by = CaseStatus.CLOSED, timezone.now(), actor
    case.save(update_fields=["status", "closed_at", "closed_by"])
    audit_record(action=AuditAction.CASE_CLOSED, agency=case.agency, actor=actor, obj=case,
                 details=case_audit_details(case))
    return case

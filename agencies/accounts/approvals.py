"""Dual control over the roles that approve cases and confirm leads: one admin asks, another
person approves. An admin alone can therefore never give themselves a second pair of hands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from agencies.accounts.models import PRIVILEGED_ROLES, RoleRequest, RoleRequestStatus
from agencies.audit.models import AuditAction, AuditOutcome
from agencies.audit.trail import audit_record
from agencies.tenancy.models import Agency, Membership, Role
from agencies.tenancy.permissions import is_platform_operator
from agencies.tenancy.selectors import acting_agency, has_role
from portal.errors import ServiceError


def needs_second_approval(role: str) -> bool:
    """Whether holding `role` must be approved by a second person."""
    return role in PRIVILEGED_ROLES


def role_request_create(*, requester: Any, user: Any, agency: Agency, role: str,
                        new_account: bool = False) -> RoleRequest:
    """Ask that `user` hold a privileged role; nothing changes until someone else approves."""
    if RoleRequest.objects.filter(user=user, status=RoleRequestStatus.PENDING).exists():
        raise ServiceError("role_request_pending", f"A role change for {user.get_username()} "
                           "already waits for approval; have it approved or refused first.", status=409)
    request = RoleRequest.objects.create(agency=agency, user=user, role=role, new_account=new_account,
                                         requested_by=requester)
    audit_record(action=AuditAction.ROLE_REQUESTED, agency=agency, actor=requester, obj=user,
                 details=_details(request))
    return request


def _acting_admins() -> QuerySet[Membership]:
    """Admin memberships that can act now (active and approved)."""
    return Membership.objects.filter(role=Role.AGENCY_ADMIN, awaiting_approval=False,
                                     user__is_active=True)


def agency_admin_count(agency: Agency) -> int:
    """Admins of the agency who can act now."""
    return _acting_admins().filter(agency=agency).count()


def approval_refusal(approver: Any, request: RoleRequest) -> str:
    """Why `approver` may not decide this request, or "" when they may."""
    if approver.pk in (request.requested_by_id, request.user_id):
        return ("Another person must approve this: the admin who asked for a role cannot approve "
                "it, and nobody approves their own.")
    if is_platform_operator(approver):
        if agency_admin_count(request.agency) > 1:
            return ("This agency has more than one admin: another of its admins approves, not the "
                    "platform operator.")
        return ""
    if acting_agency(approver) != request.agency or not has_role(approver, Role.AGENCY_ADMIN):
        return "Only another admin of the agency (or the platform operator) approves roles."
    return ""


def _locked_pending(approver: Any, request_id: int) -> RoleRequest:
    request = (RoleRequest.objects.select_for_update().select_related("agency", "user", "requested_by")
               .filter(pk=request_id, status=RoleRequestStatus.PENDING).first())
    visible = request is not None and (is_platform_operator(approver)
                                       or acting_agency(approver) == request.agency)
    if request is None or not visible:
        raise ServiceError("not_found", "No such request waits for approval.", status=404)
    return request


def _decided(approver: Any, request_id: int, decide: Callable[[RoleRequest], None]) -> RoleRequest:
    with transaction.atomic():
        request = _locked_pending(approver, request_id)
        refusal = approval_refusal(approver, request)
        if not refusal:
            decide(request)
            return request
    # A refused attempt is recorded on its own, outside the transaction that did nothing.
    audit_record(action=AuditAction.ROLE_APPROVED, agency=request.agency, actor=approver,
                 obj=request.user, outcome=AuditOutcome.REFUSED,
                 details={**_details(request), "reason": refusal})
    raise ServiceError("second_approver_required", refusal, status=403)


def role_request_approve(*, approver: Any, request_id: int) -> RoleRequest:
    """Give the member the requested role (and, for a new account, let it sign in)."""

    def approve(request: RoleRequest) -> None:
        Membership.objects.filter(user=request.user).update(role=request.role,
                                                            awaiting_approval=False)
        _decide(request, approver, RoleRequestStatus.APPROVED, AuditAction.ROLE_APPROVED)

    return _decided(approver, request_id, approve)


def role_request_refuse(*, approver: Any, request_id: int) -> RoleRequest:
    """Refuse the role; an account created for it stays closed (disabled)."""

    def refuse(request: RoleRequest) -> None:
        if request.new_account:
            request.user.is_active = False
            request.user.save(update_fields=["is_active"])
        _decide(request, approver, RoleRequestStatus.REFUSED, AuditAction.ROLE_REFUSED)

    return _decided(approver, request_id, refuse)


def _decide(request: RoleRequest, approver: Any, status: str, action: str) -> None:
    request.status = status
    request.decided_by = approver
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    details = {**_details(request), "decided_by": approver.get_username()}
    audit_record(action=action, agency=request.agency, actor=approver, obj=request.user,
                 details=details)
    if is_platform_operator(approver):  # the operator's decision is on the platform's record too
        audit_record(action=action, agency=None, actor=approver, obj=request.user,
                     details={**details, "agency": request.agency.slug})


def _details(request: RoleRequest) -> dict[str, Any]:
    return {"username": request.user.get_username(), "role": request.role,
            "new_account": request.new_account, "requested_by": request.requested_by.get_username(),
            "request": request.pk}


def pending_role_requests(*, agency: Agency | None) -> QuerySet[RoleRequest]:
    """The agency's role requests that wait for a second approval, oldest first."""
    return (RoleRequest.objects.for_agency(agency).filter(status=RoleRequestStatus.PENDING)
            .select_related("user", "requested_by"))


def operator_role_requests() -> list[RoleRequest]:
    """Pending requests the operator decides: those of agencies with at most one admin."""
    pending = list(RoleRequest.objects.filter(status=RoleRequestStatus.PENDING)
                   .select_related("agency", "user", "requested_by"))
    admins = dict(_acting_admins().filter(agency_id__in={r.agency_id for r in pending})
                  .values("agency_id").annotate(n=Count("pk")).values_list("agency_id", "n"))
    return [r for r in pending if admins.get(r.agency_id, 0) <= 1]

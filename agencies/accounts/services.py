"""Writes for agencies and their members."""

from __future__ import annotations

import logging
import secrets
from datetime import date, timedelta
from typing import Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from agencies.accounts.approvals import needs_second_approval, role_request_create
from agencies.accounts.models import Invitation, RoleRequest
from agencies.accounts.usernames import validate_username
from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from agencies.billing.licensing import ensure_seat_available
from agencies.tenancy.models import Agency, Membership, Role
from agencies.tenancy.permissions import ensure_acts_for, is_platform_operator
from agencies.tenancy.row_security import agency_rows
from agencies.tenancy.selectors import acting_agency, has_role
from portal.config import setting
from portal.db import scope
from portal.errors import NotFound, ServiceError

logger = logging.getLogger(__name__)


@transaction.atomic
def agency_ensure(*, slug: str, name: str) -> Agency:
    """The agency with this slug, created if missing."""
    agency, _ = Agency.objects.get_or_create(slug=slug, defaults={"name": name})
    return agency


@transaction.atomic
def member_ensure(*, agency: Agency | None, username: str, role: str, password: str,
                  is_platform_admin: bool = False, training_valid_until: date | None = None) -> Any:
    """A user with this password and role in the agency (or platform staff), created if missing."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    user.set_password(password)
    user.is_staff = user.is_superuser = is_platform_admin
    user.is_active = True
    user.save()
    if agency is not None:
        Membership.objects.update_or_create(user=user, defaults={
            "agency": agency, "role": role, "training_valid_until": training_valid_until})
    return user


def _require_admin_of(admin: Any, user: Any) -> Agency | None:
    """The agency of `user`'s membership, if `admin` may manage the account (its agency's admin,
    or the platform operator); 404 otherwise. Read from the membership itself, not from
    acting_agency(user): a disabled account acts for no agency, but its admin must still reach it
    (to re-activate it) and the audit event still belongs to its agency."""
    member = Membership.objects.filter(user_id=user.pk).select_related("agency").first()
    member_agency = member.agency if member else None
    if is_platform_operator(admin):
        return member_agency
    agency = acting_agency(admin)
    if agency is None or not has_role(admin, Role.AGENCY_ADMIN) or member_agency != agency:
        raise ServiceError("not_found", "No such user in your agency.", status=404)
    return member_agency


@transaction.atomic
def account_unlock(*, admin: Any, user: Any) -> None:
    """Lift a sign-in lockout; only the user's agency admin (or the platform operator) may."""
    agency = _require_admin_of(admin, user)
    axes_reset(username=user.get_username())
    audit_record(action=AuditAction.ACCOUNT_UNLOCKED, agency=agency, actor=admin,
                 obj=user, details={"username": user.get_username()})


@transaction.atomic
def mfa_reset(*, admin: Any, user: Any) -> None:
    """Remove a user's authenticator (a lost phone): they enrol a new one at their next sign-in."""
    agency = _require_admin_of(admin, user)
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    audit_record(action=AuditAction.MFA_RESET, agency=agency, actor=admin, obj=user,
                 details={"username": user.get_username(), "devices_removed": removed})


@transaction.atomic
def training_record(*, admin: Any, user: Any, valid_until: date) -> None:
    """Record that a user completed face-search training, valid until a date."""
    agency = _require_admin_of(admin, user)
    if admin.pk == user.pk:  # else an admin alone could vouch for the account they act with
        raise ServiceError("own_training", "Nobody records their own training: ask another admin "
                           "of your agency, or the platform operator.", status=403)
    Membership.objects.filter(user=user).update(training_valid_until=valid_until)
    audit_record(action=AuditAction.TRAINING_RECORDED, agency=agency, actor=admin,
                 obj=user, details={"username": user.get_username(),
                                    "training_valid_until": str(valid_until)})


def accounts_disable_inactive() -> int:
    """Disable agency accounts unused for ACCOUNT_INACTIVE_DAYS; audit each. Run daily."""
    cutoff = timezone.now() - timedelta(days=settings.ACCOUNT_INACTIVE_DAYS)
    stale = get_user_model().objects.filter(is_active=True, membership__isnull=False).filter(
        Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff))
    disabled = 0
    for user in stale:
        with transaction.atomic():
            user.is_active = False
            user.save(update_fields=["is_active"])
            audit_record(action=AuditAction.ACCOUNT_DISABLED, agency=user.membership.agency,
                         obj=user, details={"username": user.get_username(),
                                            "reason": f"unused for {settings.ACCOUNT_INACTIVE_DAYS} days"})
            disabled += 1
    return disabled


@transaction.atomic
def token_issue(*, user: Any) -> Token:
    """A new API token for a user who proved both factors; it replaces any earlier one. Audited."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    audit_record(action=AuditAction.TOKEN_ISSUED, agency=acting_agency(user), actor=user)
    return token


INVITATION_DAYS = 7


def mailbox(address: str) -> str:
    """The mailbox an address delivers to, as far as can be told: case and a `+tag` ignored, so
    `Dana+sup@agency.gov` is Dana's own (the link would reach whoever invites at it)."""
    local, _, domain = address.strip().lower().partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def _member_addresses(agency: Agency) -> list[str]:
    return list(Membership.objects.for_agency(agency).exclude(user__email="")
                .values_list("user__email", flat=True))


def masked_email(email: str) -> str:
    """j***@agency.gov: enough for the admin to recognise the address, never the mailbox itself."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


@transaction.atomic
def invitation_create(*, admin: Any, email: str, role: str) -> Invitation:
    """Invite a person into the admin's agency with a role. The link, valid 7 days, is e-mailed to
    the invitee alone: the admin never sees it, so cannot create the account themselves. It points
    at CASEBOUND_SITE_URL, never at the Host a request named (which could send the token away)."""
    agency = acting_agency(admin)
    ensure_acts_for(admin, agency, Role.AGENCY_ADMIN, code="agency_admin_required",
                    message="Only the agency admin invites people.")
    assert agency is not None  # ensure_acts_for refuses users without an agency  # noqa: S101
    if role not in Role.values:
        raise ServiceError("invalid_role", f"Unknown role {role!r}.")
    if admin.email and mailbox(email) == mailbox(admin.email):
        raise ServiceError("own_address", "Invite the new person at their own address, not yours.")
    if mailbox(email) in {mailbox(e) for e in _member_addresses(agency)}:
        raise ServiceError("address_in_use", "An account of your agency already uses this mailbox; "
                           "invite each person at their own address.")
    invitation = Invitation.objects.create(
        agency=agency, token=secrets.token_urlsafe(32), email=email, role=role, created_by=admin,
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS))
    audit_record(action=AuditAction.INVITATION_SENT, agency=agency, actor=admin, obj=invitation,
                 details={"email": masked_email(email), "role": role})
    _invitation_mail(invitation, setting("SITE_URL"))
    return invitation


def _invitation_mail(invitation: Invitation, site_url: str) -> None:
    link = site_url.rstrip("/") + reverse("invitation-accept", args=[invitation.token])
    approval = (" A second admin must approve your role before you can sign in."
                if needs_second_approval(invitation.role) else "")
    try:
        send_mail(subject="Your Casebound account", from_email=None,
                  recipient_list=[invitation.email],
                  message=f"You are invited to {invitation.agency.name} as "
                          f"{invitation.get_role_display().lower()}. Create your account within "
                          f"{INVITATION_DAYS} days: {link}{approval}")
    except OSError:  # smtplib's errors are OSErrors; the invitation is rolled back with it
        logger.exception("Invitation %s could not be e-mailed", invitation.pk)  # no link, no token
        raise ServiceError("mail_failed", "The invitation could not be e-mailed. Try again later, "
                           "or ask the platform operator to check the mail settings.",
                           status=503) from None


def _invitation_agency(token: str) -> int | None:
    """The agency an invitation link belongs to. The link's token is its secret and nothing else
    names the agency yet, so this one-row read is the only one that looks across agencies."""
    with scope.rows(scope.EVERYTHING):
        return Invitation.objects.filter(token=token).values_list("agency_id", flat=True).first()


def invitation_open(token: str) -> Invitation:
    """The invitation behind a link, if it is still valid."""
    with agency_rows(_invitation_agency(token)):
        return _valid_invitation(token)


def _valid_invitation(token: str) -> Invitation:
    invitation = Invitation.objects.select_related("agency").filter(token=token).first()
    if (invitation is None or invitation.accepted_by_id or invitation.revoked_at
            or invitation.expires_at < timezone.now()):
        raise ServiceError("invitation_invalid", "This invitation link is not valid any more. Ask "
                           "your agency admin for a new one.", status=404)
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, username: str, password: str) -> Any:
    """Create the invited account; it works once its training is recorded and MFA enrolled."""
    with agency_rows(_invitation_agency(token)):
        return _accept(_valid_invitation(token).pk, username=username, password=password)


def _accept(invitation_id: int, *, username: str, password: str) -> Any:
    invitation = Invitation.objects.select_for_update().get(pk=invitation_id)
    if invitation.accepted_by_id or invitation.revoked_at:  # by a concurrent request a moment ago
        raise ServiceError("invitation_invalid", "This invitation is not valid any more. Ask your "
                           "agency admin for a new one.", status=404)
    try:
        validate_username(username)
    except ValidationError as exc:
        raise ServiceError("invalid_username", " ".join(exc.messages)) from None
    if get_user_model().objects.filter(username=username).exists():
        raise ServiceError("username_taken", "That username is taken; choose another.", status=409)
    user = get_user_model()(username=username, email=invitation.email)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ServiceError("weak_password", " ".join(exc.messages)) from None
    if invitation.role == Role.OFFICER:
        ensure_seat_available(invitation.agency)
    user.set_password(password)
    user.save()
    privileged = needs_second_approval(invitation.role)
    Membership.objects.create(user=user, agency=invitation.agency, role=invitation.role,
                              awaiting_approval=privileged)
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_by"])
    audit_record(action=AuditAction.ACCOUNT_CREATED, agency=invitation.agency, actor=user, obj=user,
                 details={"username": username, "role": invitation.role, "invitation": invitation.pk})
    if privileged:  # asked by the inviting admin, so that admin cannot be the one who approves
        role_request_create(requester=invitation.created_by, user=user, agency=invitation.agency,
                            role=invitation.role, new_account=True)
    return user


def _pending_invitation(admin: Any, invitation_id: int) -> Invitation:
    """A pending invitation of the admin's own agency, locked; any other answers 404 alike."""
    agency = acting_agency(admin)
    ensure_acts_for(admin, agency, Role.AGENCY_ADMIN, code="agency_admin_required",
                    message="Only the agency admin manages invitations.")
    invitation = (Invitation.objects.for_agency(agency).select_for_update()
                  .filter(pk=invitation_id, accepted_by__isnull=True, revoked_at__isnull=True)
                  .first())
    if invitation is None:
        raise NotFound("not_found", "No such pending invitation in your agency: it may have been "
                       "accepted or revoked already.")
    return invitation


@transaction.atomic
def invitation_revoke(*, admin: Any, invitation_id: int) -> Invitation:
    """Withdraw a pending invitation: its link stops working at once. Audited."""
    invitation = _pending_invitation(admin, invitation_id)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(action=AuditAction.INVITATION_REVOKED, agency=invitation.agency, actor=admin,
                 obj=invitation, details={"email": masked_email(invitation.email),
                                          "role": invitation.role})
    return invitation


@transaction.atomic
def invitation_resend(*, admin: Any, invitation_id: int) -> Invitation:
    """Mail a pending (or expired) invitation again with a new link valid 7 days; the old link
    stops working, so a forwarded or leaked copy is worth nothing. Audited."""
    invitation = _pending_invitation(admin, invitation_id)
    invitation.token = secrets.token_urlsafe(32)
    invitation.expires_at = timezone.now() + timedelta(days=INVITATION_DAYS)
    invitation.save(update_fields=["token", "expires_at"])
    audit_record(action=AuditAction.INVITATION_RESENT, agency=invitation.agency, actor=admin,
                 obj=invitation, details={"email": masked_email(invitation.email),
                                          "role": invitation.role,
                                          "expires_at": invitation.expires_at.isoformat()})
    _invitation_mail(invitation, setting("SITE_URL"))  # a failed mail rolls all of it back
    return invitation


@transaction.atomic
def member_update(*, admin: Any, user: Any, role: str | None = None,
                  active: bool | None = None) -> RoleRequest | None:
    """Change a member's role or (de)activate the account; seats are checked for officers.
    A supervisor or admin role is only requested here: it takes effect on a second approval."""
    _require_admin_of(admin, user)
    if active is False and user.pk == admin.pk:  # the agency would be left without its admin
        raise ServiceError("own_account", "You cannot deactivate your own account. Another agency "
                           "admin, or the platform operator, can.", status=403)
    membership = user.membership
    if membership.awaiting_approval and (role is not None or active):
        raise ServiceError("role_request_pending", f"{user.get_username()}'s account waits for "
                           "approval of its role; have it approved or refused first.", status=409)
    if role is not None and role != membership.role and needs_second_approval(role):
        return role_request_create(requester=admin, user=user, agency=membership.agency, role=role)
    before = {"role": membership.role, "active": user.is_active}
    becomes_officer = (role or membership.role) == Role.OFFICER
    gains_seat = becomes_officer and (role == Role.OFFICER and membership.role != Role.OFFICER
                                      or active is True and not user.is_active)
    if gains_seat:
        ensure_seat_available(membership.agency)
    if role is not None:
        if role not in Role.values:
            raise ServiceError("invalid_role", f"Unknown role {role!r}.")
        membership.role = role
        membership.save(update_fields=["role"])
    if active is not None:
        user.is_active = active
        user.save(update_fields=["is_active"])
    audit_record(action=AuditAction.ROLE_CHANGED, agency=membership.agency, actor=admin, obj=user,
                 details={"username": user.get_username(), "before": before,
                          "after": {"role": membership.role, "active": user.is_active}})
    return None

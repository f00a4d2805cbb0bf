"""Writes for agencies and their members."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from agencies.audit import audit_record
from agencies.models import Agency, AuditAction, Membership, Role
from agencies.selectors import acting_agency, has_role, membership_of
from portal.errors import ServiceError


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


def _require_admin_of(admin: Any, user: Any) -> None:
    if admin.is_staff and membership_of(admin) is None:
        return  # the platform operator may act for any agency
    agency = acting_agency(admin)
    if agency is None or not has_role(admin, Role.AGENCY_ADMIN) or acting_agency(user) != agency:
        raise ServiceError("not_found", "No such user in your agency.", status=404)


@transaction.atomic
def account_unlock(*, admin: Any, user: Any) -> None:
    """Lift a sign-in lockout; only the user's agency admin (or the platform operator) may."""
    _require_admin_of(admin, user)
    axes_reset(username=user.get_username())
    audit_record(action=AuditAction.ACCOUNT_UNLOCKED, agency=acting_agency(user), actor=admin,
                 obj=user, details={"username": user.get_username()})


@transaction.atomic
def training_record(*, admin: Any, user: Any, valid_until: date) -> None:
    """Record that a user completed face-search training, valid until a date."""
    _require_admin_of(admin, user)
    Membership.objects.filter(user=user).update(training_valid_until=valid_until)
    audit_record(action=AuditAction.ROLE_CHANGED, agency=acting_agency(user), actor=admin, obj=user,
                 details={"username": user.get_username(), "training_valid_until": str(valid_until)})


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


def locked_usernames(usernames: list[str]) -> set[str]:
    """Which of these usernames axes has locked out."""
    # axes keeps one row per username and client; the lockout counts them all together.
    totals = (AccessAttempt.objects.filter(username__in=usernames).values("username")
              .annotate(failures=Sum("failures_since_start")))
    return {row["username"] for row in totals if row["failures"] >= settings.AXES_FAILURE_LIMIT}

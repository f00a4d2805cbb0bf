"""Sign-in success and failure go to the audit trail."""

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from agencies.audit.models import AuditAction, AuditOutcome
from agencies.audit.trail import audit_record
from agencies.tenancy.selectors import acting_agency


@receiver(user_logged_in)
def audit_sign_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(action=AuditAction.SIGN_IN, agency=acting_agency(user), actor=user)


@receiver(user_login_failed)
def audit_sign_in_failure(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    username = str(credentials.get("username", ""))[:150]
    # A failure against a known account goes into that account's agency chain, for its admins.
    user = get_user_model().objects.filter(username=username).first()
    audit_record(action=AuditAction.SIGN_IN_FAILED, agency=acting_agency(user) if user else None,
                 actor_name=username, outcome=AuditOutcome.FAILURE,
                 details={"known_user": user is not None})


@receiver(user_locked_out)
def audit_lockout(sender: Any, request: Any, username: str | None = None, **kwargs: Any) -> None:
    user = get_user_model().objects.filter(username=username or "").first()
    audit_record(action=AuditAction.ACCOUNT_LOCKED, agency=acting_agency(user) if user else None,
                 actor_name=username or "", outcome=AuditOutcome.REFUSED,
                 details={"reason": "too many failed sign-ins"})

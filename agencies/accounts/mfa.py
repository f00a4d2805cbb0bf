"""Second factor (TOTP, django-otp): enrolment at first sign-in, verification, lockout on misuse."""

from __future__ import annotations

import base64
import io
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from agencies.audit.models import AuditAction, AuditOutcome
from agencies.audit.trail import audit_record
from agencies.tenancy.selectors import acting_agency


def confirmed_device(user: Any) -> TOTPDevice | None:
    """The user's confirmed authenticator, if they enrolled one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_device(user: Any) -> TOTPDevice | None:
    """The unconfirmed authenticator being enrolled, once the user has started the set-up."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).first()


@transaction.atomic
def mfa_enrolment_start(*, user: Any) -> TOTPDevice:
    """Start enrolling an authenticator (the set-up page's POST): an unconfirmed device with a new
    secret, or the one already started, so a repeated post never changes a scanned secret."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()  # one at a time
    return pending_device(user) or TOTPDevice.objects.create(user=user, name="Authenticator app",
                                                             confirmed=False)


def qr_svg(device: TOTPDevice) -> str:
    """The enrolment QR code as an inline SVG data URI (rendered here: nothing leaves the server)."""
    buffer = io.BytesIO()
    write_qrcode_image(device.config_url, buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def base32_secret(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it when typed in."""
    return base64.b32encode(device.bin_key).decode()


def _refused(user: Any, request: Any) -> None:
    # A wrong code counts towards the lockout exactly like a wrong password.
    user_login_failed.send(sender=__name__, credentials={"username": user.get_username()},
                           request=request)
    audit_record(action=AuditAction.MFA_FAILED, agency=acting_agency(user), actor=user,
                 outcome=AuditOutcome.FAILURE)


@transaction.atomic
def mfa_confirm(*, user: Any, token: str, request: Any) -> TOTPDevice | None:
    """Confirm the pending authenticator with a code from it; None if the code is wrong."""
    device = pending_device(user)
    if device is None or not device.verify_token(token.strip()):
        _refused(user, request)
        return None
    TOTPDevice.objects.filter(user=user, confirmed=True).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_record(action=AuditAction.MFA_ENROLLED, agency=acting_agency(user), actor=user)
    return device


def mfa_check(*, user: Any, token: str, request: Any) -> TOTPDevice | None:
    """The confirmed device if the code is right; a wrong code is audited and counted."""
    device = confirmed_device(user)
    if device is not None and device.verify_token(token.strip()):
        return device
    _refused(user, request)
    return None


def totp_device_ensure(*, user: Any, base32_secret: str) -> TOTPDevice:
    """Give a user a confirmed authenticator with a known secret (demo and operator set-up)."""
    key = base64.b32decode(base32_secret.upper()).hex()
    device, _ = TOTPDevice.objects.update_or_create(
        user=user, name="Demo authenticator", defaults={"key": key, "confirmed": True})
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    return device


def current_code(base32_secret: str) -> str:
    """The TOTP code of a secret right now (for the demo helper and tests)."""
    from django_otp.oath import totp

    return f"{totp(base64.b32decode(base32_secret.upper())):06d}"

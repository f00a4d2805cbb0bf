"""The session and account rules for browsers."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from agencies.accounts.mfa import confirmed_device
from agencies.accounts.selectors import account_refusal
from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from agencies.tenancy.selectors import acting_agency


def _exempt(path: str) -> bool:
    return path.startswith(EXEMPT_PREFIXES)


EXEMPT_PREFIXES = ("/accounts/", "/static/", "/api/", "/opt-out/", "/transparency/", "/invitations/")


class SessionLimitsMiddleware:
    """Ends a browser session after SESSION_IDLE_SECONDS idle and SESSION_ABSOLUTE_SECONDS in all."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.setdefault("casebound_started", now)
            last_seen = request.session.get("casebound_seen", now)
            idle = now - last_seen > settings.SESSION_IDLE_SECONDS
            if idle or now - started > settings.SESSION_ABSOLUTE_SECONDS:
                audit_record(action=AuditAction.SESSION_EXPIRED, agency=acting_agency(request.user),
                             actor=request.user, details={"reason": "idle" if idle else "maximum"})
                logout(request)
                messages.info(request, "Your session ended after inactivity. Sign in again.")
                return redirect_to_login(request.get_full_path())
            request.session["casebound_seen"] = now
        return self.get_response(request)


class AccountGateMiddleware:
    """A signed-in browser user reaches pages only with MFA verified and a usable account."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and not _exempt(request.path):
            refusal = account_refusal(user)
            if refusal:
                logout(request)
                messages.error(request, refusal)
                return redirect("login")
            if not user.is_verified():  # type: ignore[union-attr,attr-defined]
                return redirect("mfa-verify" if confirmed_device(user) else "mfa-setup")
        return self.get_response(request)

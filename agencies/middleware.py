"""Request context for the audit trail, and the session and account rules for browsers."""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from agencies.audit import audit_record, request_ip
from agencies.mfa import confirmed_device
from agencies.models import AuditAction
from agencies.row_security import user_scope
from agencies.selectors import account_refusal, acting_agency
from portal.client_ip import client_ip
from portal.db import scope


class RowScopeMiddleware:
    """Binds the database's row-level security to the signed-in user's agency for the request.

    API token users are bound by ExpiringTokenAuthentication once DRF knows who they are; either
    way the scope ends with the request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with scope.rows(user_scope(request.user)):
            return self.get_response(request)


class AuditContextMiddleware:
    """Makes the client address available to audit_record for the length of the request.

    The address is portal.client_ip's: X-Forwarded-For only as far as the proxies are trusted.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = request_ip.set(client_ip(request) or None)
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)


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

"""Request context for the audit trail."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from agencies.audit.trail import request_ip
from portal.client_ip import client_ip


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

"""Request context for the audit trail."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from agencies.audit import request_ip


class AuditContextMiddleware:
    """Makes the client address available to audit_record for the length of the request.

    REMOTE_ADDR is used as is: behind a proxy, set it from a trusted header at the proxy.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = request_ip.set(request.META.get("REMOTE_ADDR") or None)
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)

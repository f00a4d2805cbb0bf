"""The client's address, the one place that decides which forwarded header may be believed.

Rate limits (django-ratelimit, DRF throttles), the sign-in lockout's records (django-axes) and the
audit trail all use it. X-Forwarded-For is written by whoever sends the request, so it is read only
when the operator says how many proxies of their own stand in front (CASEBOUND_TRUSTED_PROXIES):
each appends the address it received from, so the entry that many places from the right is the
last one a trusted proxy wrote. With 0 (the default) it is ignored and REMOTE_ADDR is the client.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def client_ip(request: Any) -> str:
    """The address that a trusted party saw the request come from."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    proxies = int(settings.TRUSTED_PROXIES)
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if proxies <= 0 or not forwarded:
        return remote
    candidate = forwarded[-min(proxies, len(forwarded))]
    return candidate if _is_address(candidate) else remote


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True

"""DRF throttles keyed on the client address that portal.client_ip trusts."""

from __future__ import annotations

from typing import Any

from rest_framework import throttling

from portal.client_ip import client_ip


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's scoped throttle, but a client cannot choose its own key with X-Forwarded-For."""

    def get_ident(self, request: Any) -> str:
        return client_ip(request)

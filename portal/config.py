"""Typed access to Casebound's own settings (the CASEBOUND dict in portal/settings)."""

from typing import Any

from django.conf import settings


def setting(name: str) -> Any:
    """One Casebound setting; read at call time so tests can override it."""
    return settings.CASEBOUND[name]

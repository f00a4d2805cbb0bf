"""API authentication: tokens that expire, and browser sessions only once MFA is verified."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from agencies.accounts.selectors import account_refusal
from agencies.tenancy.requests import bind_agency
from agencies.tenancy.row_security import user_scope
from portal.db import scope


class ExpiringTokenAuthentication(authentication.TokenAuthentication):
    """A token works for API_TOKEN_TTL_SECONDS after it was issued, for a usable account only."""

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        result = super().authenticate(request)
        if result is not None:  # the token's user, not the session's, acts in this request
            bind_agency(request._request, result[0])
        return result

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if token.created < timezone.now() - timedelta(seconds=settings.API_TOKEN_TTL_SECONDS):
            raise exceptions.AuthenticationFailed("Your API token has expired. Request a new one.")
        refusal = account_refusal(user)
        if refusal:
            raise exceptions.AuthenticationFailed(refusal)
        scope.enter(user_scope(user))  # until RowScopeMiddleware ends the request's scope
        return user, token


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """A browser session counts for the API only after its second factor was verified."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if not getattr(user, "is_verified", lambda: False)() or account_refusal(user):
            bind_agency(request._request, None)  # the session's user does not act here
            return None
        return result

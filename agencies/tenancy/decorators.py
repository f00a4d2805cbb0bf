"""Guards for HTML views: signed in, a member of an agency, optionally with a role."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from agencies.tenancy.permissions import is_platform_operator
from agencies.tenancy.requests import AgencyRequest
from agencies.tenancy.selectors import has_role

View = Callable[..., HttpResponseBase]


def member_required(*roles: str) -> Callable[[View], View]:
    """Admit members of an agency (with one of `roles`, if given): the view gets a MemberRequest,
    whose `agency` RowScopeMiddleware resolved."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if cast(AgencyRequest, request).agency is None or (
                    roles and not has_role(request.user, *roles)):
                raise PermissionDenied("Your role does not allow this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def platform_admin_required(view: View) -> View:
    """Admit the platform operator only (staff without an agency)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_platform_operator(request.user):
            raise PermissionDenied("This page is for the platform operator.")
        return view(request, *args, **kwargs)

    return wrapped

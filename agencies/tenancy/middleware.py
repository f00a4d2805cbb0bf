"""Resolves the signed-in user's agency once per request: `request.agency`, and the database's
row-level security bound to it."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from agencies.tenancy.requests import bind_agency
from agencies.tenancy.row_security import user_scope
from portal.db import scope


class RowScopeMiddleware:
    """Sets `request.agency` (typed by `AgencyRequest`) and binds the database's row-level
    security to the signed-in user's agency for the request.

    API token users are bound by ExpiringTokenAuthentication once DRF knows who they are (DRF
    authenticates after middleware); either way the scope ends with the request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bind_agency(request, request.user)
        with scope.rows(user_scope(request.user)):
            return self.get_response(request)

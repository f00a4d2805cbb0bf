"""Binds the database's row-level security to the signed-in user's agency, for each request."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from agencies.tenancy.row_security import user_scope
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

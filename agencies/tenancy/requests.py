"""Typed requests: what RowScopeMiddleware and the API's authentication put on every request.

Used for typing only (like healthchecks' `AuthenticatedHttpRequest`); Django still builds plain
`HttpRequest`s. `bind_agency` is the one place that resolves the acting agency of a request.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.models import User
from django.http import HttpRequest

from agencies.tenancy.models import Agency
from agencies.tenancy.selectors import acting_agency


class AgencyRequest(HttpRequest):
    """Any request past RowScopeMiddleware: the agency its user acts for, None for anonymous users,
    platform staff and accounts without a membership."""

    user: User
    agency: Agency | None


class MemberRequest(AgencyRequest):
    """A request that `member_required` admitted: its user acts for an agency."""

    agency: Agency


def bind_agency(request: HttpRequest, user: Any) -> Agency | None:
    """Resolve, from the user's membership and never from input, the agency the request acts
    for, and set it on the request (the underlying HttpRequest, for a DRF request)."""
    agency = acting_agency(user)
    cast(AgencyRequest, request).agency = agency  # the one place it is written
    return agency

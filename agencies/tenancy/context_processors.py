"""Template context: the agency and role of the signed-in user."""

from typing import Any

from django.http import HttpRequest

from agencies.tenancy.selectors import membership_of


def acting_agency(request: HttpRequest) -> dict[str, Any]:
    membership = membership_of(getattr(request, "user", None))
    return {
        "membership": membership,
        "agency": membership.agency if membership else None,
        "role": membership.role if membership else None,
    }

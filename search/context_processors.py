"""What every page's navigation shows a supervisor: how much waits for them."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from agencies.tenancy.models import Role
from agencies.tenancy.selectors import has_role
from search import selectors


def review_queue_count(request: HttpRequest) -> dict[str, Any]:
    """The number of leads and cases waiting for a supervisor (two counts, one per page)."""
    user = getattr(request, "user", None)
    agency = getattr(request, "agency", None)
    verified = user is not None and getattr(user, "is_verified", lambda: False)()
    if agency is None or not verified or not has_role(user, Role.SUPERVISOR):
        return {}  # nothing of the agency before the second factor
    # A callable: the template calls it only where the navigation is drawn, so partial pages
    # (the search panel the browser polls) run no count.
    return {"review_queue_count": lambda: (
        selectors.review_queue(user=user, agency=agency).count()
        + selectors.approvals_waiting(user=user, agency=agency).count())}

"""The search rate limit, shared by the API and the browser form."""

from __future__ import annotations

from rest_framework.throttling import UserRateThrottle


class SearchRateThrottle(UserRateThrottle):
    """`CASEBOUND_RATE_SEARCH` per user. Its cache key (`throttle_search_<user id>`) is the one
    the API's `ScopedRateThrottle` uses for the scope "search", so page and API share one count."""

    scope = "search"

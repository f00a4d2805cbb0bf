"""API-wide behaviour: every error answers `{"code", "detail"}` (plus field errors when invalid)."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from portal.errors import ServiceError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        return Response({"code": exc.code, "detail": exc.message}, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"code": "invalid", "detail": "Some fields are missing or invalid.",
                         "errors": response.data}
    elif isinstance(exc, exceptions.APIException) and isinstance(response.data, dict):
        code = exc.get_codes()
        response.data = {"code": code if isinstance(code, str) else "error",
                         "detail": response.data.get("detail", str(exc))}
    if response.status_code == status.HTTP_404_NOT_FOUND:
        response.data = {"code": "not_found", "detail": "Not found."}
    return response


class Pagination(LimitOffsetPagination):
    """`?limit=` up to 100 rows: a list's cost (a search row loads its candidates) stays bounded
    whatever a client asks; a larger limit gets 100 rows and a `next` link."""

    max_limit = 100


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """django-ratelimit's answer for pages: 429 with a sentence to act on."""
    return HttpResponse("Too many attempts from your address. Wait a minute and try again.",
                        status=429, content_type="text/plain")


# Paths that answer programs (API clients, <img> loaders with tokens): their 404 is the API's.
MACHINE_PREFIXES = ("/api/", "/images/")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: an address no route matches answers like the API where a program asked."""
    if request.path.startswith(MACHINE_PREFIXES):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)

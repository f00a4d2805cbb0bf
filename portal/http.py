"""Small HTTP helpers: downloads, and the one check every user-supplied redirect passes."""

from collections.abc import Callable
from typing import TypeVar

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme

from portal.api import MACHINE_PREFIXES

R = TypeVar("R", bound=HttpResponseBase)


def attachment(body: bytes | str, *, content_type: str, filename: str) -> HttpResponse:
    """A download that no shared cache keeps (reports and invoices are confidential)."""
    return private_download(HttpResponse(body, content_type=content_type), filename)


def private_download(response: R, filename: str) -> R:
    """`response` as a file to save, which no browser or proxy cache keeps (every export, streamed
    or not, goes through here)."""
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


def safe_next(request: HttpRequest, default: str = "") -> str:
    """The request's `next` address if it stays on this site, else `default`.

    Every redirect taken from input goes through here (sign-in, MFA set-up and verification), so
    that `//evil.example`, `https:evil.example`, `\\\\evil.example` or `javascript:` never leave
    the site, however deeply nested in another `next`. Over https (always, in production) a
    plain-http address is refused too.
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()},
        require_https=request.is_secure())
    return target if target and safe else default


class MethodNotAllowedPage:
    """Django answers a wrong method (GET on a form's POST address) with an empty 405; people get a
    page in the site's layout that says what to do, programs keep the bare answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        blank = isinstance(response, HttpResponse) and not response.content
        if response.status_code != 405 or not blank or request.path.startswith(MACHINE_PREFIXES):
            return response
        page = HttpResponse(render_to_string("405.html", request=request), status=405)
        page["Allow"] = response.get("Allow", "")
        return page

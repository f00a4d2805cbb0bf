"""Pages for members of the public (no account): the opt-out form and the transparency page."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django_ratelimit.decorators import ratelimit

from agencies.audit.checkpoints import published_checkpoints
from portal.config import setting
from portal.errors import ServiceError
from search import selectors
from search.forms import IMAGE_ACCEPT
from search.services.privacy import optout_confirm, optout_link_check, optout_submit
from search.uploads import read_upload


def public_rate(group: str, request: HttpRequest) -> str:
    """The public pages share the public API's limit per address (`CASEBOUND_RATE_PUBLIC`)."""
    return str(settings.PUBLIC_RATE)


class OptOutForm(forms.Form):
    photo = forms.FileField(label="A photo of yourself", widget=forms.ClearableFileInput(attrs=IMAGE_ACCEPT),
                            help_text="Just you, facing the camera. JPEG, PNG or WebP. Only the face "
                                      "crop is kept, and only until your request is decided.")
    email = forms.EmailField(label="Your e-mail",
                             help_text="We send a link to confirm the request; it is reviewed "
                                       "only once you follow it. We write again with the outcome.")
    residence = forms.CharField(label="Where you live", max_length=200,
                                help_text="Country and region, e.g. US, Illinois.")


@ratelimit(key="ip", rate=public_rate, method="POST", block=True)
def opt_out(request: HttpRequest) -> HttpResponse:
    form = OptOutForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            submitted = optout_submit(photo=read_upload(form.cleaned_data["photo"]),
                                      email=form.cleaned_data["email"],
                                      residence=form.cleaned_data["residence"])
        except ServiceError as exc:
            form.add_error("photo", exc.message)
        else:
            return render(request, "public/opt_out_received.html",
                          {"opt_out": submitted, **_terms()})
    return render(request, "public/opt_out.html", {"form": form, **_terms()})


def _terms() -> dict[str, int]:
    return {"confirm_hours": setting("OPT_OUT_CONFIRM_HOURS"),
            "objection_days": setting("OPT_OUT_OBJECTION_DAYS")}


@ratelimit(key="ip", rate="30/h", block=True)
def opt_out_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button; only the POST confirms, so a mail scanner opening links proves nothing."""
    try:
        if request.method != "POST":
            optout_link_check(token=token)
            return render(request, "public/opt_out_confirm.html", {})
        confirmed = optout_confirm(token=token)
    except ServiceError as exc:
        return render(request, "public/opt_out_confirm.html", {"error": exc.message},
                      status=exc.status)
    return render(request, "public/opt_out_confirm.html", {"opt_out": confirmed})


def transparency(request: HttpRequest) -> HttpResponse:
    this_year = timezone.now().year
    checkpoints = published_checkpoints()
    figures, computed_at = selectors.transparency_figures(years=[this_year, this_year - 1])
    return render(request, "public/transparency.html", {
        "agencies": figures, "computed_at": computed_at,
        "checkpoints": checkpoints, "audit_public_key": checkpoints[0].public_key if checkpoints else ""})

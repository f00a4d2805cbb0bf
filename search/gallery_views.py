"""The agency admin's gallery settings page: the form parses, the audited service decides."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from agencies.tenancy.decorators import member_required
from agencies.tenancy.models import Role
from agencies.tenancy.requests import MemberRequest
from portal.errors import ServiceError
from search import selectors
from search.models import Gallery
from search.services.enrollment import GALLERY_SETTINGS, gallery_update
from search.validators import MAX_GALLERY_RETENTION_DAYS


class GallerySettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    retention_days = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_GALLERY_RETENTION_DAYS,
        help_text="Faces enrolled longer ago than this are purged each night; empty keeps them "
                  "as long as the agency's retention policy allows.")

    class Meta:
        model = Gallery
        fields = list(GALLERY_SETTINGS)
        labels = {"honours_opt_outs": "Honour approved public opt-outs"}
        help_texts = {"honours_opt_outs": "Only for a gallery held under another statutory basis: "
                                          "warrant, missing-person, court-order and arrest "
                                          "galleries never honour opt-outs."}

    def validate_unique(self) -> None:
        """The service says it, with the agency's own words (the form has no agency field)."""


@member_required(Role.AGENCY_ADMIN)
def gallery_settings(request: MemberRequest, pk: int) -> HttpResponse:
    """Name, source, legal basis, opt-outs and retention of one of the agency's galleries."""
    gallery = selectors.gallery_get(agency=request.agency, pk=pk)
    # The form gets its own copy: validating it writes the posted values onto its instance.
    form = GallerySettingsForm(request.POST or None,
                               instance=selectors.gallery_get(agency=request.agency, pk=pk))
    if request.method == "POST" and form.is_valid():
        try:
            changed = gallery_update(gallery=gallery, actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Settings of {changed.name} are saved.")
            return redirect("gallery-detail", pk=changed.pk)
    return render(request, "search/gallery_settings.html", {"gallery": gallery, "form": form},
                  status=400 if form.errors else 200)

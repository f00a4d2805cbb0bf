"""The agency admin's face model page: the agency's recipe, the registered ones, and the
re-embedding jobs with their progress (starting one is audited by the service)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from agencies.tenancy.decorators import member_required
from agencies.tenancy.models import Role
from agencies.tenancy.requests import MemberRequest
from portal.errors import ServiceError
from portal.recipes import registered
from portal.weights import recipe_installed
from search.models import ReembedJob
from search.services.reembed import recipe_of, reembed_start


@never_cache
@member_required(Role.AGENCY_ADMIN)
def face_model(request: MemberRequest) -> HttpResponse:
    agency = request.agency
    if request.method == "POST":
        try:
            job = reembed_start(agency=agency, recipe_name=request.POST.get("recipe", ""),
                                actor=request.user)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Re-embedding {job.total} faces under {job.to_recipe} has "
                             "started. Searches keep using the current recipe until it is done.")
        return redirect("face-model")
    current = recipe_of(agency.pk)
    recipes = [(recipe, recipe_installed(recipe)) for recipe in registered().values()]
    return render(request, "search/face_model.html", {
        "current": current, "recipes": recipes,
        "choices": [r.name for r, installed in recipes if installed and r.name != current],
        "jobs": ReembedJob.objects.for_agency(agency)[:10]})

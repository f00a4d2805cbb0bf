"""The operator's pages: agencies, licenses, usage against quota and revenue (with charts), role
requests and opt-out requests."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from agencies.accounts.approvals import operator_role_requests
from agencies.accounts.people_views import role_request_decision
from agencies.accounts.selectors import locked_usernames
from agencies.accounts.services import account_unlock
from agencies.billing.licensing import agency_register, license_change, license_grant
from agencies.billing.models import License, LicenseStatus, Plan
from agencies.billing.selectors import platform_overview, revenue_by_month
from agencies.tenancy.decorators import platform_admin_required
from agencies.tenancy.models import Agency, AgencyKind
from portal.charts import bars
from portal.config import setting
from portal.errors import ServiceError
from search import selectors
from search.models import OptOutRequest, OptOutStatus
from search.services.privacy import (
    optout_approve,
    optout_consult,
    optout_photo_open,
    optout_reject,
    optout_restore,
)


class AgencyForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(help_text="Short name used in addresses, e.g. north-county")
    kind = forms.ChoiceField(choices=AgencyKind.choices)
    country = forms.CharField(max_length=2, help_text="Two letters, e.g. US")
    region = forms.CharField(max_length=10, required=False, help_text="e.g. CA, IL")


class LicenseForm(forms.Form):
    agency = forms.ModelChoiceField(queryset=Agency.objects.order_by("name"))
    plan = forms.ModelChoiceField(queryset=Plan.objects.order_by("name"))
    starts_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                              help_text="Empty: the plan's validity")


@platform_admin_required
def dashboard(request: HttpRequest) -> HttpResponse:
    agency_form = AgencyForm(request.POST if "create_agency" in request.POST else None)
    license_form = LicenseForm(request.POST if "grant_license" in request.POST else None)
    if request.method == "POST":
        done = _handle(request, agency_form, license_form)
        if done:
            return redirect("platform-dashboard")
    revenue = revenue_by_month()
    return render(request, "platform/dashboard.html", {
        "rows": platform_overview(), "agency_form": agency_form, "license_form": license_form,
        "revenue": revenue, "locked": sorted(locked_usernames()),
        "revenue_bars": bars([(f"{r['period']:%b %y}", float(r["total"])) for r in revenue])})


def _handle(request: HttpRequest, agency_form: AgencyForm, license_form: LicenseForm) -> bool:
    try:
        if "create_agency" in request.POST and agency_form.is_valid():
            agency = agency_register(actor=request.user, **agency_form.cleaned_data)
            messages.success(request, f"{agency.name} is registered. Grant it a license next.")
            return True
        if "grant_license" in request.POST and license_form.is_valid():
            granted = license_grant(actor=request.user, **license_form.cleaned_data)
            messages.success(request, f"License granted to {granted.agency.name} until "
                             f"{granted.ends_on}.")
            return True
    except ServiceError as exc:
        (agency_form if "create_agency" in request.POST else license_form).add_error(None, exc.message)
    return False


@require_POST
@platform_admin_required
def license_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    granted = get_object_or_404(License, pk=pk)
    suspend = granted.status == LicenseStatus.ACTIVE
    license_change(actor=request.user, license=granted,
                   status=LicenseStatus.SUSPENDED if suspend else LicenseStatus.ACTIVE,
                   suspension_reason=request.POST.get("reason", "") if suspend else "")
    messages.success(request, f"License of {granted.agency.name} "
                     f"{'suspended' if suspend else 'resumed'}.")
    return redirect("platform-dashboard")


@require_POST
@platform_admin_required
def account_unlock_view(request: HttpRequest) -> HttpResponse:
    """Lift any account's lockout (an agency admin's own, or staff's); audited by the service."""
    username = request.POST.get("username", "")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        messages.error(request, f"No account is named {username!r}. Check the spelling.")
    else:
        account_unlock(admin=request.user, user=user)
        messages.success(request, f"{username} is unlocked.")
    return redirect("platform-dashboard")


@platform_admin_required
def role_requests(request: HttpRequest) -> HttpResponse:
    """Supervisor and admin roles asked by the only admin of an agency: the operator is the second
    person there."""
    return render(request, "platform/role_requests.html", {"requests": operator_role_requests()})


@require_POST
@platform_admin_required
def role_request_decide(request: HttpRequest, pk: int) -> HttpResponse:
    return role_request_decision(request, pk, redirect_to="platform-role-requests")


@platform_admin_required
def opt_out_queue(request: HttpRequest) -> HttpResponse:
    requests = selectors.operator_opt_outs()
    return render(request, "platform/opt_outs.html", {
        "pending": requests.filter(status=OptOutStatus.PENDING),
        "consulting": requests.filter(status=OptOutStatus.CONSULTING),
        "unconfirmed": OptOutRequest.objects.filter(status=OptOutStatus.UNCONFIRMED).count(),
        "decided": requests.filter(status__in=DECIDED)[:50],
        "strict": setting("OPT_OUT_SIMILARITY"), "grace_days": setting("OPT_OUT_GRACE_DAYS"),
        "objection_days": setting("OPT_OUT_OBJECTION_DAYS")})


DECIDED = (OptOutStatus.APPROVED, OptOutStatus.REJECTED, OptOutStatus.RESTORED)


def _decide(decision: str, opt_out: OptOutRequest, actor: Any, reason: str) -> str:
    if decision == "consult":
        consulted = optout_consult(request=opt_out, actor=actor)
        asked = consulted.consultations.count()
        if not asked:
            return (f"Request {opt_out.pk}: no agency holds a matching face in a gallery that "
                    "honours opt-outs. Approve it (nothing is removed; the face is suppressed from "
                    "future enrollment there) or reject it.")
        return (f"Request {opt_out.pk}: {asked} agency(ies) asked; they may object until "
                f"{consulted.objection_deadline:%Y-%m-%d %H:%M} UTC.")
    if decision == "approve":
        decided = optout_approve(request=opt_out, actor=actor, reason=reason)
        return (f"Request {opt_out.pk} approved: {decided.faces_removed} face(s) removed, "
                f"restorable for {setting('OPT_OUT_GRACE_DAYS')} days; the face is suppressed.")
    if decision == "restore":
        optout_restore(request=opt_out, actor=actor, reason=reason)
        return f"Request {opt_out.pk}: the removed faces are restored and the suppression lifted."
    optout_reject(request=opt_out, actor=actor, reason=reason)
    return f"Request {opt_out.pk} rejected."


@require_POST
@platform_admin_required
def opt_out_decide(request: HttpRequest, pk: int) -> HttpResponse:
    opt_out = get_object_or_404(selectors.operator_opt_outs(), pk=pk)
    try:
        messages.success(request, _decide(request.POST.get("decision", ""), opt_out, request.user,
                                          request.POST.get("reason", "")))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("platform-opt-outs")


@platform_admin_required
def opt_out_photo(request: HttpRequest, pk: int) -> FileResponse:
    try:
        photo = optout_photo_open(actor=request.user, pk=pk)
    except ServiceError as exc:
        raise Http404(exc.message) from None
    response = FileResponse(photo.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response

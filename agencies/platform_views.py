"""The operator's pages: agencies, licenses, usage against quota and revenue, with charts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from agencies.approvals import operator_role_requests, role_request_approve, role_request_refuse
from agencies.decorators import platform_admin_required
from agencies.licensing import agency_register, license_change, license_grant
from agencies.models import Agency, AgencyKind, License, LicenseStatus, Plan
from agencies.selectors import platform_overview, revenue_by_month
from agencies.services import account_unlock, locked_usernames
from portal.errors import ServiceError


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


def bars(values: list[tuple[str, float]], height: int = 120) -> list[dict[str, Any]]:
    """Bar geometry for a server-drawn SVG chart (no script, nothing from a CDN)."""
    top = max([v for _, v in values] or [1]) or 1
    width = 36
    return [{"label": label, "value": value, "x": i * (width + 8), "width": width,
             "height": round(height * value / top), "y": height - round(height * value / top)}
            for i, (label, value) in enumerate(values)]


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


def role_request_decision(request: HttpRequest, pk: int, *, redirect_to: str) -> HttpResponse:
    """Approve or refuse a role request from a page (the agency's or the operator's)."""
    approve = request.POST.get("decision") == "approve"
    decide = role_request_approve if approve else role_request_refuse
    try:
        decided = decide(approver=request.user, request_id=pk)
    except ServiceError as exc:
        if exc.status == 404:
            raise Http404(exc.message) from None
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{decided.user.get_username()} as "
                         f"{decided.get_role_display().lower()}: "
                         f"{'approved' if approve else 'refused'}.")
    return redirect(redirect_to)

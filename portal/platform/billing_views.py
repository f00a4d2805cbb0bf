"""The operator's plans and every agency's invoices. Plans are written only through the audited
services of agencies.billing.licensing; the pages parse input and say what happened."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from agencies.billing.invoice_files import invoice_csv, invoice_pdf
from agencies.billing.licensing import PLAN_FIELDS, plan_change, plan_create, plan_delete
from agencies.billing.models import Invoice, Plan
from agencies.billing.selectors import platform_invoices
from agencies.tenancy.decorators import platform_admin_required
from agencies.tenancy.models import Agency
from portal.errors import ServiceError
from portal.http import attachment


class PlanForm(forms.ModelForm):  # type: ignore[type-arg]
    MONEY = ("overage_price", "annual_fee_per_seat", "storage_price_per_1000_faces")

    class Meta:
        model = Plan
        fields = list(PLAN_FIELDS)
        help_texts = {"monthly_search_quota": "Searches included each month",
                      "overage_price": "Price of each search over the quota, if billed",
                      "currency": "Three letters, e.g. USD",
                      "validity_days": "Length of a license granted on this plan"}


    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in self.MONEY:
            if data.get(name) is not None and data[name] < 0:
                self.add_error(name, "A price cannot be negative.")
        return data


@platform_admin_required
def plan_list(request: HttpRequest) -> HttpResponse:
    """Every plan, and a form to create one."""
    form = PlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        plan = plan_create(actor=request.user, **form.cleaned_data)
        messages.success(request, f"Plan {plan.name} is created. Grant it from the Agencies page.")
        return redirect("platform-plans")
    return render(request, "platform/plans.html",
                  {"plans": Plan.objects.annotate(license_count=Count("licenses")).order_by("name"),
                   "form": form},
                  status=400 if form.errors else 200)


@platform_admin_required
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change what a plan offers or costs; every license on it follows."""
    plan = get_object_or_404(Plan, pk=pk)
    form = PlanForm(request.POST or None, instance=plan)
    if request.method == "POST" and form.is_valid():
        changed = plan_change(actor=request.user, plan=plan, **form.cleaned_data)
        messages.success(request, f"Plan {changed.name} is saved; its licenses follow it.")
        return redirect("platform-plans")
    return render(request, "platform/plan_edit.html",
                  {"plan": plan, "form": form, "licenses": plan.licenses.count()},
                  status=400 if form.errors else 200)


@platform_admin_required
def plan_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask first (GET), delete on the confirmed POST; a plan in use is refused with the reason."""
    plan = get_object_or_404(Plan, pk=pk)
    if request.method != "POST" or request.POST.get("confirm") != "yes":
        return render(request, "platform/plan_delete_confirm.html",
                      {"plan": plan, "licenses": plan.licenses.count()})
    try:
        plan_delete(actor=request.user, plan=plan)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Plan {plan.name} is deleted.")
    return redirect("platform-plans")


class InvoiceFilter(forms.Form):
    agency = forms.ModelChoiceField(queryset=Agency.objects.order_by("name"), required=False,
                                    empty_label="Every agency")
    month = forms.CharField(required=False, help_text="YYYY-MM, e.g. 2026-03",
                            widget=forms.DateInput(attrs={"type": "month"}))

    def clean_month(self) -> date | None:
        value = self.cleaned_data["month"].strip()
        if not value:
            return None
        try:
            return date.fromisoformat(f"{value}-01")
        except ValueError:
            raise forms.ValidationError("Give the month as YYYY-MM, e.g. 2026-03.") from None


@platform_admin_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    """Every agency's invoices, filtered by agency and month, each downloadable."""
    filters = InvoiceFilter(request.GET or None)
    valid = not filters.is_bound or filters.is_valid()
    criteria = filters.cleaned_data if filters.is_bound and valid else {}
    invoices = platform_invoices(agency=criteria.get("agency"), period=criteria.get("month"))
    return render(request, "platform/invoices.html",
                  {"filter": filters, "invoices": invoices[:200] if valid else []},
                  status=200 if valid else 400)


@platform_admin_required
def invoice_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """An agency's invoice as PDF or CSV, the same file the agency downloads."""
    invoice = get_object_or_404(Invoice.objects.select_related("agency"), pk=pk)
    if fmt == "pdf":
        return attachment(invoice_pdf(invoice), content_type="application/pdf",
                          filename=f"{invoice.number}.pdf")
    return attachment(invoice_csv(invoice), content_type="text/csv",
                      filename=f"{invoice.number}.csv")

"""Metering (each billable event once) and the monthly invoices built from it."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from agencies.billing.models import Invoice, InvoiceLine, OveragePolicy, Plan, UsageEvent, UsageKind
from agencies.billing.selectors import current_license, month_start, usage_in_month
from agencies.tenancy.models import Agency

CENT = Decimal("0.01")
# Sent for each agency when a month closes; receivers answer how many faces the agency stores.
# Search connects to it (search.signals): agencies never imports search, so it is asked this way.
stored_faces = Signal()


def meter(*, agency: Agency, kind: str, key: str, day: date, quantity: int = 1,
          actor: Any = None) -> bool:
    """Record a billable event once; a second call with the same key (a retried task) is a no-op.

    Returns whether this call recorded it.
    """
    created = UsageEvent.objects.bulk_create(
        [UsageEvent(agency=agency, kind=kind, key=key, quantity=quantity, period=month_start(day),
                    actor=actor if getattr(actor, "pk", None) else None, at=timezone.now())],
        ignore_conflicts=True)
    return bool(created and created[0].pk)


def meter_search(search: Any) -> bool:
    """A search that ran (to a result or to 'no face') is billable, once."""
    return meter(agency=search.agency, kind=UsageKind.SEARCH, key=f"search:{search.pk}",
                 day=timezone.localdate(search.created_at), actor=search.requested_by)


def _line(description: str, quantity: Decimal, unit_price: Decimal) -> InvoiceLine:
    amount = (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
    return InvoiceLine(description=description, quantity=quantity, unit_price=unit_price,
                       amount=amount)


def invoice_lines(plan: Plan, searches: int, faces: int) -> list[InvoiceLine]:
    """The lines of one month: seats (a twelfth of the annual fee), searches over quota, storage."""
    monthly_seat = (plan.annual_fee_per_seat / 12).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    lines = [_line(f"{plan.seats} seats, {plan.name} (annual fee / 12)", Decimal(plan.seats),
                   monthly_seat)]
    over = max(0, searches - plan.monthly_search_quota)
    if plan.overage_policy == OveragePolicy.BILL and over:
        lines.append(_line(f"{over} searches over the quota of {plan.monthly_search_quota}",
                           Decimal(over), plan.overage_price))
    if plan.storage_price_per_1000_faces and faces:
        lines.append(_line(f"Storage: {faces} faces at month end (per 1,000)",
                           Decimal(faces) / 1000, plan.storage_price_per_1000_faces))
    return lines


@transaction.atomic
def invoice_issue(*, agency: Agency, period: date) -> Invoice | None:
    """The agency's invoice for a month (issued once: a second call returns the first)."""
    existing = Invoice.objects.filter(agency=agency, period=period).first()
    if existing:
        return existing
    last_day = (period + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    granted = current_license(agency, today=last_day)
    if granted is None:
        return None
    lines = invoice_lines(granted.plan, usage_in_month(agency=agency, kind=UsageKind.SEARCH, day=period),
                          usage_in_month(agency=agency, kind=UsageKind.STORAGE, day=period))
    invoice = Invoice.objects.create(
        agency=agency, number=f"CB-{period:%Y%m}-{agency.pk:05d}", period=period,
        currency=granted.plan.currency, total=sum((line.amount for line in lines), Decimal("0")),
        issued_at=timezone.now())
    for line in lines:
        line.invoice = invoice
    InvoiceLine.objects.bulk_create(lines)
    audit_record(action=AuditAction.INVOICE_ISSUED, agency=agency, obj=invoice, actor_name="system",
                 details={"number": invoice.number, "total": str(invoice.total),
                          "currency": invoice.currency})
    return invoice


def period_close(*, today: date | None = None) -> list[Invoice]:
    """Close last month: meter the faces each agency stores, then invoice every licensed agency.

    Run by Celery beat on the 1st; safe to run again (metering and invoices are once each).
    """
    today = today or timezone.localdate()
    period = month_start(month_start(today) - timedelta(days=1))
    last_day = month_start(today) - timedelta(days=1)
    invoices = []
    for agency in Agency.objects.all():  # a platform job: every agency, each on its own
        faces = sum(int(count or 0) for _, count in stored_faces.send(sender=Agency, agency=agency))
        meter(agency=agency, kind=UsageKind.STORAGE, key=f"storage:{agency.pk}:{period:%Y-%m}",
              day=last_day, quantity=faces)
        invoice = invoice_issue(agency=agency, period=period)
        if invoice:
            invoices.append(invoice)
    return invoices

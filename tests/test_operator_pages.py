"""The operator's plans and invoices pages, through real HTTP: access, audited writes through the
services, validation, confirmation before a deletion, and every agency's invoices as files."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from django.utils import timezone
from pypdf import PdfReader

from agencies.audit.models import AuditAction, AuditEvent
from agencies.audit.trail import PLATFORM_CHAIN
from agencies.billing.models import Invoice, InvoiceLine, License, Plan
from tests.fixtures import web_client

PLAN = {"name": "Metro", "seats": "40", "monthly_search_quota": "900", "overage_policy": "bill",
        "overage_price": "3.50", "annual_fee_per_seat": "1000.00",
        "storage_price_per_1000_faces": "2.00", "currency": "USD", "validity_days": "365"}


def _plan_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.PLAN_CHANGED).order_by("seq"))


def _invoice(agency, number: str, period: date, total: str) -> Invoice:
    invoice = Invoice.objects.create(agency=agency, number=number, period=period, currency="USD",
                                     total=Decimal(total), issued_at=timezone.now())
    InvoiceLine.objects.create(invoice=invoice, description="Searches", quantity=1,
                               unit_price=Decimal(total), amount=Decimal(total))
    return invoice


def test_the_operator_creates_a_plan_from_the_page_and_it_is_audited(cast) -> None:
    client = web_client(cast.operator)
    response = client.post("/platform/plans/", PLAN, follow=True)
    assert response.status_code == 200
    assert "Plan Metro is created" in response.content.decode()
    plan = Plan.objects.get(name="Metro")
    assert plan.seats == 40 and plan.overage_price == Decimal("3.50")
    (event,) = _plan_events()
    assert event.chain == PLATFORM_CHAIN and event.actor == cast.operator
    assert event.details["change"] == "created" and event.details["after"]["seats"] == "40"
    page = client.get("/platform/plans/").content.decode()
    assert "<h1>Plans</h1>" in page and f'id="plan-{plan.pk}"' in page


def test_a_bad_plan_is_refused_with_the_field_named_and_nothing_audited(cast) -> None:
    client = web_client(cast.operator)
    response = client.post("/platform/plans/", {**PLAN, "seats": "-3", "name": "Standard",
                                                "overage_price": "-1.00"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Ensure this value is greater than or equal to 0" in page
    assert "A price cannot be negative." in page
    assert "Plan with this Name already exists" in page
    assert not _plan_events() and not Plan.objects.filter(seats=-3).exists()


def test_the_operator_edits_a_plan_and_the_change_is_audited_before_and_after(cast) -> None:
    plan = License.objects.get(agency=cast.agency).plan
    client = web_client(cast.operator)
    form = client.get(f"/platform/plans/{plan.pk}/")
    assert form.status_code == 200 and "Edit plan Standard" in form.content.decode()
    response = client.post(f"/platform/plans/{plan.pk}/",
                           {**PLAN, "name": "Standard", "seats": "30"}, follow=True)
    assert "Plan Standard is saved" in response.content.decode()
    plan.refresh_from_db()
    assert plan.seats == 30
    (event,) = _plan_events()
    assert event.details["before"]["seats"] == "25" and event.details["after"]["seats"] == "30"


def test_deleting_a_plan_asks_first_then_deletes_and_audits(cast) -> None:
    plan = Plan.objects.create(name="Trial", seats=2, monthly_search_quota=10,
                               annual_fee_per_seat=Decimal("0"))
    client = web_client(cast.operator)
    asked = client.get(f"/platform/plans/{plan.pk}/delete/")
    assert asked.status_code == 200 and "Delete plan Trial?" in asked.content.decode()
    unconfirmed = client.post(f"/platform/plans/{plan.pk}/delete/")
    assert unconfirmed.status_code == 200 and Plan.objects.filter(pk=plan.pk).exists()
    done = client.post(f"/platform/plans/{plan.pk}/delete/", {"confirm": "yes"}, follow=True)
    assert "Plan Trial is deleted" in done.content.decode()
    assert not Plan.objects.filter(pk=plan.pk).exists()
    (event,) = _plan_events()
    assert event.details["change"] == "deleted" and event.details["before"]["name"] == "Trial"


def test_a_plan_in_use_is_not_deleted_and_the_page_says_why(cast) -> None:
    plan = License.objects.get(agency=cast.agency).plan
    client = web_client(cast.operator)
    assert "move them to another plan first" in client.get(
        f"/platform/plans/{plan.pk}/delete/").content.decode()
    response = client.post(f"/platform/plans/{plan.pk}/delete/", {"confirm": "yes"}, follow=True)
    assert "move them to another plan before deleting it" in response.content.decode()
    assert Plan.objects.filter(pk=plan.pk).exists() and not _plan_events()


def test_agency_members_cannot_reach_the_plans_or_invoices_pages(cast) -> None:
    plan = License.objects.get(agency=cast.agency).plan
    invoice = _invoice(cast.agency, "N-1", date(2026, 1, 1), "10.00")
    for user in (cast.admin, cast.auditor, cast.officer):
        client = web_client(user)
        for url in ("/platform/plans/", f"/platform/plans/{plan.pk}/",
                    f"/platform/plans/{plan.pk}/delete/", "/platform/invoices/",
                    f"/platform/invoices/{invoice.pk}/pdf/", f"/platform/invoices/{invoice.pk}/csv/"):
            assert client.get(url).status_code == 403, (user, url)
        assert client.post("/platform/plans/", PLAN).status_code == 403
        assert client.post(f"/platform/plans/{plan.pk}/delete/", {"confirm": "yes"}).status_code == 403
    assert Plan.objects.filter(pk=plan.pk).exists() and not Plan.objects.filter(name="Metro").exists()


def test_the_operator_sees_every_agencys_invoices_filtered_by_agency_and_month(cast) -> None:
    north = _invoice(cast.agency, "N-2026-01", date(2026, 1, 1), "120.00")
    _invoice(cast.agency, "N-2026-02", date(2026, 2, 1), "130.00")
    south = _invoice(cast.other_agency, "S-2026-01", date(2026, 1, 1), "70.00")
    client = web_client(cast.operator)
    page = client.get("/platform/invoices/").content.decode()
    assert all(n in page for n in ("N-2026-01", "N-2026-02", "S-2026-01"))
    january = client.get("/platform/invoices/", {"month": "2026-01"}).content.decode()
    assert "N-2026-01" in january and "S-2026-01" in january and "N-2026-02" not in january
    south_only = client.get("/platform/invoices/",
                            {"agency": cast.other_agency.pk}).content.decode()
    assert "S-2026-01" in south_only and "N-2026-01" not in south_only
    pdf = client.get(f"/platform/invoices/{north.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert "120.00" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    rows = list(csv.reader(io.StringIO(
        client.get(f"/platform/invoices/{south.pk}/csv/").content.decode())))
    assert rows[-1][2] == "TOTAL" and rows[-1][5] == "70.00"


def test_a_wrong_invoice_filter_is_a_400_that_says_what_to_give(cast) -> None:
    client = web_client(cast.operator)
    response = client.get("/platform/invoices/", {"month": "March"})
    assert response.status_code == 400
    assert "Give the month as YYYY-MM" in response.content.decode()
    assert client.get("/platform/invoices/", {"agency": "abc"}).status_code == 400
    assert client.get("/platform/invoices/999999/pdf/").status_code == 404


def test_the_agencies_page_shows_license_period_usage_and_a_link_to_invoices(cast) -> None:
    granted = License.objects.get(agency=cast.agency)
    page = web_client(cast.operator).get("/platform/").content.decode()
    assert f"{granted.starts_on:%Y-%m-%d} to {granted.ends_on:%Y-%m-%d}" in page
    assert f"/platform/invoices/?agency={cast.agency.pk}" in page
    assert "0 / 500" in page

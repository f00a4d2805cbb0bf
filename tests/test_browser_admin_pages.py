"""In a real Chromium, at 1,366 px and on a 390 px phone: the operator's plans and invoices, the
agency admin's people (pending invitations), gallery settings and usage, and the auditor's home
fit the window; screenshots are saved under var/test-artifacts for a person to look at."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agencies.billing.metering import meter
from agencies.billing.models import Invoice, InvoiceLine, UsageKind
from tests.factories import PASSWORD, GalleryFactory
from tests.fixtures import ARTIFACTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


def _fits(page: Any, name: str, size: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{name} at {size} is {width} px wide"
    page.screenshot(path=str(ARTIFACTS / f"{name}-{size}.png"), full_page=True)


def _walk(browser: Any, live_server: Any, signed_in: Any, pages: dict[str, str]) -> None:
    """Each page at both widths, in the session of `signed_in` (a code is good for one sign-in)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    state = signed_in.context.storage_state()
    for size, viewport in WIDTHS.items():
        page = browser.new_context(base_url=live_server.url, viewport=viewport,
                                   storage_state=state).new_page()
        for name, (url, heading) in pages.items():
            page.goto(url)
            expect(page.get_by_role("heading", level=1)).to_have_text(heading)
            _fits(page, name, size)
        page.context.close()


def test_the_operators_plans_and_invoices_fit_both_widths(cast, browser, live_server) -> None:
    invoice = Invoice.objects.create(agency=cast.agency, number="NORTH-2026-10",
                                     period=date(2026, 10, 1), currency="USD",
                                     total=Decimal("31250.00"), issued_at=timezone.now())
    InvoiceLine.objects.create(invoice=invoice, description="Seats", quantity=25,
                               unit_price=Decimal("1250"), amount=Decimal("31250.00"))
    page = browser.new_context(base_url=live_server.url).new_page()
    sign_in(page, "operator", PASSWORD)
    page.get_by_role("link", name="Plans").click()
    page.get_by_label("Name").fill("County")
    page.get_by_label("Seats").fill("10")
    page.get_by_label("Monthly search quota").fill("200")
    page.get_by_label("Annual fee per seat").fill("900")
    page.get_by_role("button", name="Create plan").click()
    expect(page.locator(".messages .usa-alert--success")).to_contain_text("Plan County is created")
    page.get_by_role("link", name="Delete plan County").click()
    page.get_by_role("button", name="Delete plan County").click()
    expect(page.locator(".messages .usa-alert--success")).to_contain_text("Plan County is deleted")
    page.get_by_role("link", name="Invoices", exact=True).click()
    expect(page.locator(f"#invoice-{invoice.pk}")).to_contain_text("31250.00 USD")
    _walk(browser, live_server, page, {
        "platform-plans": ("/platform/plans/", "Plans"),
        "platform-invoices": ("/platform/invoices/", "Invoices"),
        "platform-agencies": ("/platform/", "Agencies and licenses")})


def test_the_admins_and_auditors_pages_fit_both_widths(cast, browser, live_server) -> None:
    gallery = GalleryFactory(agency=cast.agency, name="North bookings")
    today = date.today()
    for n in range(5):
        meter(agency=cast.agency, kind=UsageKind.SEARCH, key=f"now:{n}", day=today,
              actor=cast.officer)
    page = browser.new_context(base_url=live_server.url).new_page()
    sign_in(page, "dana", PASSWORD)
    page.get_by_role("link", name="People").click()
    page.get_by_label("Email").fill("kim@north.gov")
    page.get_by_label("Role").first.select_option("officer")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#invitations-heading + p + table")).to_contain_text("k***@north.gov")
    page.get_by_role("button", name="Send again the invitation of k***@north.gov").click()
    expect(page.locator(".messages .usa-alert--success")).to_contain_text("with a new link")
    page.get_by_role("link", name="Revoke the invitation of k***@north.gov").click()
    page.get_by_role("button", name="Revoke the invitation").click()
    expect(page.locator(".messages .usa-alert--success")).to_contain_text("is revoked")
    page.goto(f"/galleries/{gallery.pk}/settings/")
    page.get_by_label("Retention days").fill("0")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".usa-error-message")).to_contain_text("greater than or equal to 1")
    page.get_by_label("Retention days").fill("365")
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".messages .usa-alert--success")).to_contain_text("are saved")
    page.get_by_role("link", name="Usage").click()
    expect(page.get_by_role("img", name="Searches per day this month")).to_be_visible()
    page.get_by_role("link", name="People").click()
    page.get_by_label("Email").fill("lee@north.gov")
    page.get_by_label("Role").first.select_option("auditor")
    page.get_by_role("button", name="Send invitation").click()
    _walk(browser, live_server, page, {
        "admin-people": ("/people/", "People of North County Sheriff"),
        "admin-gallery-settings": (f"/galleries/{gallery.pk}/settings/",
                                   "Settings of North bookings"),
        "admin-usage": ("/usage/", "Usage and invoices")})
    auditor = browser.new_context(base_url=live_server.url).new_page()
    sign_in(auditor, "erin", PASSWORD)
    _walk(browser, live_server, auditor, {
        "auditor-home": ("/", "North County Sheriff"),
        "auditor-reports": ("/audit/reports/", f"Oversight report {today.year}")})

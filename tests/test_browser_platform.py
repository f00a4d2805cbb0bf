"""In a real Chromium: the operator registers an agency and grants a license; an agency admin
reads the agency's usage and downloads an invoice."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from agencies.billing.metering import meter, period_close
from agencies.billing.models import License, UsageKind
from agencies.tenancy.models import Agency
from tests.factories import PASSWORD, PlanFactory
from tests.fixtures import ARTIFACTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_operator_registers_an_agency_and_grants_a_license(cast, browser, live_server) -> None:
    PlanFactory(name="County")
    page = browser.new_context(base_url=live_server.url).new_page()
    sign_in(page, "operator", PASSWORD)
    expect(page.get_by_role("heading", name="Agencies and licenses")).to_be_visible()
    page.get_by_label("Name").fill("Fresno Police Department")
    page.get_by_label("Slug").fill("fresno")
    page.get_by_label("Kind").select_option("law_enforcement")
    page.get_by_label("Country").fill("US")
    page.get_by_label("Region").fill("CA")
    page.get_by_role("button", name="Register agency").click()
    expect(page.locator(".messages .usa-alert--success")).to_contain_text(
        "Fresno Police Department is registered")
    page.get_by_label("Agency").select_option(label="Fresno Police Department")
    page.get_by_label("Plan").select_option(label="County")
    page.get_by_label("Starts on").fill(date.today().isoformat())
    page.get_by_role("button", name="Grant license").click()
    expect(page.locator("#agency-fresno")).to_contain_text("Active")
    page.screenshot(path=str(ARTIFACTS / "platform-dashboard.png"), full_page=True)
    assert License.objects.get(agency=Agency.objects.get(slug="fresno")).plan.name == "County"


def test_the_agency_admin_reads_usage_and_an_invoice(cast, browser, live_server) -> None:
    last_month = date.today().replace(day=1) - timedelta(days=1)
    License.objects.filter(agency=cast.agency).update(starts_on=last_month - timedelta(days=40))
    for n in range(3):
        meter(agency=cast.agency, kind=UsageKind.SEARCH, key=f"last:{n}", day=last_month,
              actor=cast.officer)
        meter(agency=cast.agency, kind=UsageKind.SEARCH, key=f"now:{n}", day=date.today(),
              actor=cast.officer)
    [invoice] = [i for i in period_close() if i.agency_id == cast.agency.pk]
    page = browser.new_context(base_url=live_server.url, accept_downloads=True).new_page()
    sign_in(page, "dana", PASSWORD)
    page.get_by_role("link", name="Usage").click()
    expect(page.locator("#searches-used")).to_have_text("3")
    expect(page.get_by_role("img", name="Searches per day this month")).to_be_visible()
    row = page.locator("tr.invoice-row", has_text=invoice.number)
    expect(row).to_contain_text(f"{invoice.total} USD")
    with page.expect_download() as download:
        row.get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename == f"{invoice.number}.csv"
    page.screenshot(path=str(ARTIFACTS / "agency-usage.png"), full_page=True)

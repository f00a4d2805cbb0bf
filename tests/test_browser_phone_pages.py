"""In a real Chromium on a 390 x 844 phone (and at 1,366 px where the desktop is the point): the
people page stays a short list with each person's actions behind one "Manage" control that works
by keyboard; the operator's agencies and the searches list stack instead of scrolling inside
their box, numbers under their labels and sort links still there; the usage charts are drawn in
rows with lettering a person can read; the search page names its stage; the audit trail's rows
stay one line, their details on demand."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from agencies.audit.models import AuditAction, AuditEvent
from agencies.audit.trail import audit_record
from search.models import Search
from search.services import searching
from tests import photos
from tests.factories import PASSWORD, assigned_case
from tests.fixtures import ARTIFACTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
SHOTS = ARTIFACTS / "phone"


def _signed_in(browser: Any, live_server: Any, username: str, viewport: dict[str, int]) -> Page:
    page = browser.new_context(base_url=live_server.url, viewport=viewport).new_page()
    sign_in(page, username, PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    return page


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _scrolling_boxes(page: Page, table: str) -> list[str]:
    """The elements of `table` (or the table itself) that scroll sideways inside their box."""
    return page.evaluate("""sel => [document.querySelector(sel),
            ...document.querySelectorAll(sel + ' *')]
        .filter(el => el.scrollWidth > el.clientWidth + 1
                      && ['auto', 'scroll'].includes(getComputedStyle(el).overflowX))
        .map(el => el.outerHTML.slice(0, 80))""", table)


def _page_height(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollHeight"))


def test_the_people_page_on_a_phone_is_a_short_list_and_manage_works_by_keyboard(
        cast, browser, live_server) -> None:
    page = _signed_in(browser, live_server, "dana", PHONE)
    page.goto("/people/")
    expect(page.get_by_role("heading", level=1)).to_have_text("People of North County Sheriff")
    _shot(page, "admin-people-390")
    # Four people were about 3,900 px of buttons; a few short lines each keep the page short.
    people = page.locator("#accounts-heading ~ table tbody tr")
    expect(people).to_have_count(4)
    tallest = max(people.evaluate_all("rows => rows.map(r => r.getBoundingClientRect().height)"))
    assert tallest < 200, tallest
    assert _page_height(page) < 2700, _page_height(page)
    assert _scrolling_boxes(page, "#accounts-heading ~ table") == []
    alice = page.locator("#person-alice")
    expect(alice).to_contain_text("Officer")
    expect(alice).to_contain_text("Active")
    change = alice.get_by_role("button", name="Change role")
    expect(change).to_be_hidden()  # behind the person's Manage control until asked for

    manage = page.get_by_text("Manage alice")  # its summary: "Manage" and, for readers, whose
    manage.focus()
    page.keyboard.press("Enter")
    expect(change).to_be_visible()
    expect(alice.get_by_role("button", name="Deactivate alice")).to_be_visible()
    expect(alice.get_by_role("button", name="Reset second factor of alice")).to_be_visible()
    expect(alice.get_by_label("Training of alice valid until")).to_be_visible()
    _shot(page, "admin-people-manage-390")
    alice.get_by_label("Role of alice").select_option("auditor")
    change.click()
    expect(page.get_by_role("status").first).to_contain_text("alice as auditor now waits")

    # Deactivating still asks first, saying what it does.
    page.get_by_text("Manage bob").click()
    page.locator("#person-bob").get_by_role("button", name="Deactivate bob").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Deactivate bob?")
    page.get_by_role("button", name="Deactivate bob").click()
    expect(page.get_by_role("status").first).to_contain_text("bob is deactivated")
    cast.supervisor.refresh_from_db()
    assert not cast.supervisor.is_active
    page.context.close()


def _left_of_label(page: Page, cell: str) -> None:
    """The number sits under its label (stacked), not pushed to the cell's right edge."""
    align = page.locator(cell).first.evaluate("el => getComputedStyle(el).textAlign")
    assert align in ("left", "start"), align


def test_the_agencies_table_stacks_on_a_phone(cast, browser, live_server) -> None:
    page = _signed_in(browser, live_server, "operator", PHONE)
    page.goto("/platform/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Agencies and licenses")
    _shot(page, "operator-agencies-390")
    assert _scrolling_boxes(page, "#agencies") == []
    north = page.locator("#agency-north")
    assert north.evaluate("el => getComputedStyle(el.cells[4], '::before').content") == \
        '"Searches this month"'
    _left_of_label(page, "#agency-north td.num")
    expect(north.get_by_role("link", name="Invoices of North County Sheriff")).to_be_visible()
    expect(north.get_by_label("Reason")).to_be_visible()
    page.context.close()


def test_the_searches_list_stacks_on_a_phone_and_still_sorts(cast, browser, live_server) -> None:
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0701",
                         decided_by=cast.supervisor)
    for _ in range(2):
        searching.search_create(case=case, user=cast.officer, probe=photos.photo("Ariel_Sharon", 2))
    newest, oldest = Search.objects.order_by("-pk")[:2]
    page = _signed_in(browser, live_server, "alice", PHONE)
    page.goto("/searches/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Searches")
    _shot(page, "officer-searches-390")
    assert _scrolling_boxes(page, "table.search-list") == []
    row = page.locator(f"#search-{newest.pk}")
    expect(row.get_by_role("link", name=f"Search {newest.pk}")).to_be_visible()
    expect(row.locator("td.num")).to_be_visible()
    _left_of_label(page, f"#search-{newest.pk} td.num")
    # The header stays as a line of sort links on the phone.
    started = page.get_by_role("link", name=re.compile(r"^Started"))
    expect(started).to_be_visible()
    started.click()
    expect(page).to_have_url(re.compile(r"sort=started"))
    ids = [int(i) for i in re.findall(r'id="search-(\d+)"', page.content())]
    assert ids == [oldest.pk, newest.pk]
    page.context.close()


def test_the_usage_charts_are_drawn_in_legible_rows_on_a_phone(cast, browser, live_server) -> None:
    page = _signed_in(browser, live_server, "dana", PHONE)
    page.goto("/usage/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Usage and invoices")
    _shot(page, "admin-usage-390")
    expect(page.locator("#per-day-title").locator("xpath=..")).to_be_hidden()  # the one-row chart
    rows = page.get_by_role("img", name=re.compile(r"^Searches per day this month, Day of the month"))
    expect(rows).to_have_count(3)
    expect(rows.first).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^Searches per month, last 12 months, Month"))) \
        .to_have_count(2)
    # Lettering of about 13 px on the screen (its size times the drawing's scale), where one row
    # of 31 days drew it at about 4.
    sizes = page.locator(".chart--phone .bar-label").evaluate_all(
        "els => els.map(e => e.getScreenCTM().a * parseFloat(getComputedStyle(e).fontSize))")
    assert sizes and min(sizes) >= 12, sizes
    expect(page.locator("#months-table")).to_be_visible()  # the tables stay
    page.set_viewport_size(DESKTOP)
    expect(page.get_by_role("img", name="Searches per day this month", exact=True)).to_be_visible()
    expect(rows.first).to_be_hidden()
    page.context.close()


def test_the_search_page_names_and_announces_its_stage_on_a_phone(cast, browser, live_server,
                                                                 monkeypatch) -> None:
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0702",
                         decided_by=cast.supervisor)
    # Not sent to the broker: the session's worker (started by other tests) would run it, and
    # this page is the one an officer sees while the search waits in the queue.
    from search.tasks import run_search

    monkeypatch.setattr(run_search, "delay", lambda *args, **kwargs: None)
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Ariel_Sharon", 2))
    page = _signed_in(browser, live_server, "alice", PHONE)
    page.goto(f"/searches/{search.pk}/")
    _shot(page, "officer-search-queued-390")
    expect(page.locator(".usa-step-indicator__segment-label").first).to_be_hidden()  # USWDS
    expect(page.locator(".usa-step-indicator__heading-text")).to_be_visible()
    expect(page.locator(".usa-step-indicator__heading-text")).to_have_text("Queued")
    announcer = page.get_by_role("status").filter(has_text="Step 1 of 5: Queued")
    expect(announcer).to_have_count(1)
    # The swapped panel is no live region of its own: it would be read again at every poll.
    assert page.locator("#search-panel").get_attribute("aria-live") is None
    page.context.close()


def test_an_audit_rows_details_are_one_line_with_the_rest_on_demand(cast, browser,
                                                                   live_server) -> None:
    audit_record(action=AuditAction.EXPORT, agency=cast.agency, actor=cast.admin,
                 details={"export": "audit_csv", "filters": {"actor": "alice", "action": "search_run",
                          "date_from": "2026-01-01", "date_to": "2026-12-31", "case": "2026-0801"},
                          "request_id": "0f4c2a9e-2a47-4d1c-9a1e-5d1c9b3f7e21",
                          "reason": "Quarterly review of the searches of the robbery squad"})
    event = AuditEvent.objects.filter(action=AuditAction.EXPORT).latest("seq")
    page = _signed_in(browser, live_server, "erin", DESKTOP)
    page.goto("/audit/")
    row = page.locator("tr.audit-row").filter(has=page.locator(f"td:text-is('{event.seq}')"))
    expect(row).to_have_count(1)
    _shot(page, "auditor-audit-1366")
    line = float(row.evaluate("el => parseFloat(getComputedStyle(el.cells[0]).lineHeight)"))
    height = row.evaluate("el => el.getBoundingClientRect().height")
    assert height < 1.5 * line + 20, (height, line)  # one line and its padding, not 3 to 5
    summary = row.locator("summary")
    expect(summary).to_contain_text("reason: Quarterly review of the")  # the telling key first
    expect(row.get_by_text("request_id", exact=True)).to_be_hidden()
    summary.focus()
    page.keyboard.press("Enter")
    expect(row.get_by_text("request_id", exact=True)).to_be_visible()
    expect(row.get_by_text("0f4c2a9e-2a47-4d1c-9a1e-5d1c9b3f7e21")).to_be_visible()
    expect(row).to_contain_text("Quarterly review of the searches of the robbery squad")
    page.context.close()

"""The lawful-use flow in a real Chromium: a supervisor approves, an officer searches, two people
confirm a lead, and the auditor finds the search in the trail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from search.models import Candidate, CandidateStatus, Case, CaseStatus
from tests import photos
from tests.factories import PASSWORD, GalleryFactory
from tests.fixtures import ARTIFACTS, enroll_people, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _as(browser: Any, live_server: Any, username: str) -> Any:
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    sign_in(page, username, PASSWORD)
    return page


def _decide(page: Any, decision: str) -> None:
    """On the compare page: choose, go on, confirm on the page that says what will happen."""
    page.locator("label.usa-radio__label", has_text=decision).click()  # USWDS draws the radio
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name=f"Record: {decision}").click()
    expect(page.get_by_role("status").first).to_contain_text("is recorded")


def test_approve_search_confirm_and_audit(cast, browser, live_server, celery_worker) -> None:
    enroll_people(GalleryFactory(agency=cast.agency, name="North bookings"))
    officer = _as(browser, live_server, "alice")
    officer.get_by_role("link", name="Open a case").first.click()
    officer.get_by_label("Case number").fill("2026-4242")
    officer.get_by_label("Offence category").select_option("robbery")
    officer.get_by_label("Justification").fill("Armed robbery at the bank, CCTV still")
    officer.get_by_label("Authorization reference").fill("W-2026-17")
    officer.get_by_role("button", name="Open case").click()
    expect(officer.get_by_role("status").first).to_contain_text("A supervisor must approve it")

    supervisor = _as(browser, live_server, "bob")
    supervisor.get_by_role("link", name="2026-4242").click()
    supervisor.get_by_label("Reason (recorded; required to reject)").fill("Warrant W-2026-17 seen")
    supervisor.get_by_role("button", name="Approve").click()
    expect(supervisor.locator(".status-approved").first).to_be_visible()
    assert Case.objects.get(case_number="2026-4242").status == CaseStatus.APPROVED

    officer.reload()
    officer.get_by_label("Probe photo").set_input_files(str(photos.photo_path("Colin_Powell", 2)))
    officer.get_by_role("button", name="Search").click()
    expect(officer).to_have_url(re.compile(r"/searches/\d+/$"))
    first = officer.locator("#candidate-1")
    expect(first).to_contain_text("Colin_Powell", timeout=90_000)
    first.get_by_role("link", name="Compare and review candidate 1").click()
    _decide(officer, "Possible lead")
    expect(officer.locator(".review-status")).to_contain_text("one of the two a supervisor")

    supervisor.goto(officer.url)
    _decide(supervisor, "Possible lead")
    expect(supervisor.locator(".review-status")).to_have_text(
        "Possible lead (two reviewers, one a supervisor)")
    assert Candidate.objects.get(rank=1).status == CandidateStatus.POSSIBLE_LEAD
    supervisor.screenshot(path=str(ARTIFACTS / "two-person-review.png"), full_page=True)

    auditor = _as(browser, live_server, "erin")
    auditor.get_by_role("link", name="Audit trail").click()
    auditor.get_by_label("Case number").fill("2026-4242")
    auditor.get_by_label("Action").select_option("search_run")
    auditor.get_by_role("button", name="Filter").click()
    rows = auditor.locator("tr.audit-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("alice")
    expect(rows.first).to_contain_text("Armed robbery at the bank")
    auditor.screenshot(path=str(ARTIFACTS / "audit-trail.png"), full_page=True)

"""The compare page in a real Chromium, at 1,366 and 390 px: faces side by side then stacked,
zoom by mouse and keyboard, and a decision chosen, confirmed and acknowledged."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from search.models import Review
from tests import photos
from tests.factories import PASSWORD, GalleryFactory, assigned_case
from tests.fixtures import ARTIFACTS, enroll_people, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _box(page: Any, selector: str, index: int) -> dict[str, float]:
    return page.locator(selector).nth(index).bounding_box()


def _fits(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_an_officer_compares_zooms_and_confirms_a_decision(cast, page, celery_worker) -> None:
    enroll_people(GalleryFactory(agency=cast.agency, name="North bookings"), count=2)
    assigned_case(cast.agency, cast.officer, case_number="2026-0505", decided_by=cast.supervisor)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, "alice", PASSWORD)
    page.get_by_role("link", name="2026-0505").click()
    page.get_by_label("Probe photo").set_input_files(str(photos.photo_path("Ariel_Sharon", 2)))
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("status").first).to_contain_text("Search started in case 2026-0505")
    page.get_by_role("link", name="Compare and review candidate 1").click(timeout=90_000)
    expect(page).to_have_url(re.compile(r"/searches/\d+/candidates/1/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Compare candidate 1 with the probe")
    for heading in ("Where this face comes from", "Other enrolled faces of this subject",
                    "Review history", "Your review"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    probe, candidate = _box(page, ".compare-pair figure", 0), _box(page, ".compare-pair figure", 1)
    assert probe["y"] == candidate["y"] and candidate["x"] > probe["x"] + probe["width"] - 1
    _fits(page, 1366)
    page.screenshot(path=str(ARTIFACTS / "compare-1366.png"), full_page=True)

    face = page.get_by_role("button", name="Candidate 1: enrolled face")
    small = face.bounding_box()["width"]
    face.focus()
    page.keyboard.press("Enter")
    expect(face).to_have_attribute("aria-pressed", "true")
    assert face.bounding_box()["width"] > small * 2
    page.keyboard.press("Escape")
    expect(face).to_have_attribute("aria-pressed", "false")
    face.click()
    expect(face).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=str(ARTIFACTS / "compare-zoomed-1366.png"), full_page=True)

    page.locator("label.usa-radio__label", has_text="Possible lead").click()  # USWDS draws the radio
    expect(page.get_by_label("Possible lead")).to_be_checked()
    page.get_by_label("Note for the record").fill("Same ears and chin")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your decision on candidate 1")
    expect(page.locator("main")).to_contain_text("one of the two a supervisor")
    assert not Review.objects.exists()
    page.screenshot(path=str(ARTIFACTS / "compare-confirm-1366.png"), full_page=True)
    page.get_by_role("button", name="Record: Possible lead").click()
    expect(page.get_by_role("status").first).to_contain_text("Your decision on candidate 1 is recorded")
    expect(page.locator("main")).to_contain_text("Same ears and chin")
    assert Review.objects.get().note == "Same ears and chin"

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    probe, candidate = _box(page, ".compare-pair figure", 0), _box(page, ".compare-pair figure", 1)
    assert candidate["y"] >= probe["y"] + probe["height"]  # stacked on a phone
    _fits(page, 390)
    page.get_by_role("button", name="Candidate 1: enrolled face").click()
    _fits(page, 390)  # enlarged within its column, never wider than the screen
    page.screenshot(path=str(ARTIFACTS / "compare-390.png"), full_page=True)

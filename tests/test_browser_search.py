"""The officer's flow in a real Chromium: sign in, open the case, upload a probe, read the leads."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import photos
from tests.factories import PASSWORD, GalleryFactory, assigned_case
from tests.fixtures import ARTIFACTS, enroll_people, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_officer_searches_and_sees_the_right_person_first(cast, page, celery_worker) -> None:
    enroll_people(GalleryFactory(agency=cast.agency, name="North bookings"))
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0099")
    sign_in(page, "alice", PASSWORD)
    page.get_by_role("link", name="2026-0099").click()
    page.get_by_label("Probe photo").set_input_files(str(photos.photo_path("Colin_Powell", 2)))
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/searches/\d+/$"))
    expect(page.get_by_role("note")).to_contain_text("Investigative leads only")
    first = page.locator(".candidate").first
    expect(first).to_contain_text("Colin_Powell", timeout=90_000)
    expect(first.locator(".rank")).to_have_text("#1")
    expect(page.get_by_alt_text("Probe face, aligned")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "search-result.png"), full_page=True)
    assert case.searches.get().status == "done"


def test_a_photo_without_a_face_is_explained(cast, page, celery_worker) -> None:
    assigned_case(cast.agency, cast.officer, case_number="2026-0100")
    blank = ARTIFACTS / "landscape.jpg"
    blank.write_bytes(photos.blank_photo())
    sign_in(page, "alice", PASSWORD)
    page.goto("/cases/")
    page.get_by_role("link", name="2026-0100").click()
    page.get_by_label("Probe photo").set_input_files(str(blank))
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="No face found")).to_be_visible(timeout=90_000)


def test_a_non_image_is_refused_on_the_case_page(cast, page) -> None:
    assigned_case(cast.agency, cast.officer, case_number="2026-0101")
    fake = ARTIFACTS / "report.jpg"
    fake.write_bytes(b"%PDF-1.4 this is a pdf")
    sign_in(page, "alice", PASSWORD)
    page.goto("/cases/")
    page.get_by_role("link", name="2026-0101").click()
    page.get_by_label("Probe photo").set_input_files(str(fake))
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".messages .usa-alert--error")).to_contain_text("not a photo we can read")

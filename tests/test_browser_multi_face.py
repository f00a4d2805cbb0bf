"""A group photo in a real Chromium: the faces boxed and listed, another one searched by
keyboard, the probe photo loaded once while the page polls, nothing wider than a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from agencies.audit.models import AuditAction, AuditEvent
from search.tests.test_multi_face_search import BIG, SMALL, _group_photo
from tests.factories import PASSWORD, GalleryFactory, assigned_case
from tests.fixtures import ARTIFACTS, enroll_people, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_officer_searches_the_second_face_of_a_group_photo(cast, page, celery_worker) -> None:
    enroll_people(GalleryFactory(agency=cast.agency, name="North bookings"))
    assigned_case(cast.agency, cast.officer, case_number="2026-0098")
    group = ARTIFACTS / "group.jpg"
    group.write_bytes(_group_photo())
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, "alice", PASSWORD)
    page.get_by_role("link", name="2026-0098").click()
    page.get_by_label("Probe photo").set_input_files(str(group))
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Faces in the photo")).to_be_visible(timeout=90_000)
    expect(page.locator(".candidate").first).to_contain_text(BIG)
    expect(page.locator("svg .face-box")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    first_search = int(re.search(r"/searches/(\d+)/", page.url).group(1))  # type: ignore[union-attr]
    # The polling kept the photo it had: one probe image served and audited, not one a second.
    assert AuditEvent.objects.filter(action=AuditAction.IMAGE_VIEWED, object_id=str(first_search),
                                     details__image="probe").count() == 1
    page.screenshot(path=str(ARTIFACTS / "search-multi-face-390.png"), full_page=True)

    button = page.get_by_role("button", name="Search face 2")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Searching face 2 of the same photo")).to_be_visible()
    expect(page.locator(".candidate").first).to_contain_text(SMALL, timeout=90_000)
    expect(page.get_by_text("searched in this search")).to_be_visible()

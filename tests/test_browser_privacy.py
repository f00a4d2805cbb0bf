"""A member of the public files and confirms an opt-out in a real Chromium; the operator asks the
agencies and, their deadline past, approves it."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from agencies.tenancy.permissions import SYSTEM
from search.models import Face, LegalBasis, OptOutConsultation, OptOutRequest, OptOutStatus
from search.services.enrollment import face_enroll
from tests import photos
from tests.factories import PASSWORD, GalleryFactory
from tests.fixtures import ARTIFACTS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_opts_out_and_the_operator_approves(cast, browser, live_server, settings) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "SITE_URL": live_server.url}  # mailed links' base
    gallery = GalleryFactory(agency=cast.agency, legal_basis=LegalBasis.OTHER_STATUTE,
                             honours_opt_outs=True)
    face_enroll(actor=SYSTEM, gallery=gallery, subject_reference="W-1", image=photos.photo("Colin_Powell", 0))
    face_enroll(actor=SYSTEM, gallery=gallery, subject_reference="W-2", image=photos.photo("Tony_Blair", 0))

    public = browser.new_context(base_url=live_server.url).new_page()
    public.goto("/")
    public.goto("/transparency/")
    public.get_by_role("link", name="ask to be removed").click()
    public.get_by_label("A photo of yourself").set_input_files(str(photos.photo_path("Colin_Powell", 1)))
    public.get_by_label("Your e-mail").fill("laura@example.org")
    public.get_by_label("Where you live").fill("US, Texas")
    public.get_by_role("button", name="Send request").click()
    expect(public.get_by_role("heading", name="Check your e-mail to confirm")).to_be_visible()
    request = OptOutRequest.objects.get()
    expect(public.locator("#opt-out-id")).to_have_text(str(request.pk))
    link = re.search(r"https?://\S+/opt-out/confirm/\S+/", mail.outbox[-1].body)
    assert link is not None
    public.goto(link.group(0))
    public.get_by_role("button", name="Confirm my request").click()
    expect(public.get_by_role("status")).to_contain_text("is confirmed")

    admin = browser.new_context(base_url=live_server.url).new_page()
    sign_in(admin, "operator", PASSWORD)
    admin.get_by_role("link", name="Opt-out requests").click()
    expect(admin.get_by_alt_text(f"Face submitted with request {request.pk}")).to_be_visible()
    admin.get_by_role("button", name=f"Ask the agencies about request {request.pk}").click()
    expect(admin.locator(".messages .usa-alert--success")).to_contain_text("1 agency(ies) asked")
    OptOutConsultation.objects.update(deadline=timezone.now())  # the agency let it pass
    admin.get_by_label("Reason (sent to the person if rejected)").fill("Identity plausible")
    admin.get_by_role("button", name=f"Approve request {request.pk}").click()
    expect(admin.locator(".messages .usa-alert--success")).to_contain_text("1 face(s) removed")
    admin.screenshot(path=str(ARTIFACTS / "opt-out-approved.png"), full_page=True)
    request.refresh_from_db()
    assert request.status == OptOutStatus.APPROVED
    assert list(Face.objects.values_list("subject__reference", flat=True)) == ["W-2"]

"""The server-rendered pages, through Django's test client: who may do what, and what they see."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from search.models import Case, CaseStatus, Face
from tests import photos
from tests.factories import CaseFactory, GalleryFactory
from tests.fixtures import web_client


def _browser(user: Any) -> Client:
    return web_client(user)


def test_signing_in_is_required(cast) -> None:
    response = Client().get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_officer_opens_a_case_in_the_browser(cast) -> None:
    response = _browser(cast.officer).post("/cases/new/", {
        "case_number": "2026-7", "offence_category": "homicide", "justification": "Witness photo",
        "authorization_reference": "W-1"}, follow=True)
    case = Case.objects.get(case_number="2026-7")
    assert case.agency == cast.agency and case.status == CaseStatus.PENDING
    assert b"A supervisor must approve it" in response.content
    assert b"a supervisor must approve it before anyone can search" in response.content


def test_a_supervisor_approves_in_the_browser(cast) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.officer, status=CaseStatus.PENDING)
    _browser(cast.supervisor).post(f"/cases/{case.pk}/decide/",
                                   {"decision": "approve", "reason": "Warrant seen"})
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED and case.decision_reason == "Warrant seen"


def test_an_officer_cannot_decide(cast) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.officer, status=CaseStatus.PENDING)
    response = _browser(cast.officer).post(f"/cases/{case.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.status == CaseStatus.PENDING


def test_an_admin_enrolls_a_face_in_the_browser(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    image = SimpleUploadedFile("p.jpg", photos.photo("Laura_Bush", 0), content_type="image/jpeg")
    response = _browser(cast.admin).post(f"/galleries/{gallery.pk}/", {
        "subject_reference": "BK-77", "display_name": "Laura Bush", "image": image}, follow=True)
    assert b"Face enrolled for Laura Bush" in response.content
    assert Face.objects.filter(gallery=gallery, subject__reference="BK-77").count() == 1


def test_a_photo_without_a_face_is_explained_on_the_enroll_form(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    image = SimpleUploadedFile("p.jpg", photos.blank_photo(), content_type="image/jpeg")
    response = _browser(cast.admin).post(f"/galleries/{gallery.pk}/", {
        "subject_reference": "BK-78", "image": image})
    assert response.status_code == 200
    assert b"No face was found in this photo" in response.content
    assert not Face.objects.exists()


def test_an_officer_cannot_enroll_in_the_browser(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    image = SimpleUploadedFile("p.jpg", photos.photo("Laura_Bush", 0), content_type="image/jpeg")
    response = _browser(cast.officer).post(f"/galleries/{gallery.pk}/", {
        "subject_reference": "BK-77", "image": image})
    assert response.status_code == 403
    assert not Face.objects.exists()


def test_another_agencys_gallery_page_answers_404(cast) -> None:
    theirs = GalleryFactory(agency=cast.other_agency)
    assert _browser(cast.admin).get(f"/galleries/{theirs.pk}/").status_code == 404


def test_platform_staff_are_not_agency_members(cast) -> None:
    assert _browser(cast.operator).get("/cases/").status_code == 403


def test_the_platform_operator_lands_on_the_platform_pages(cast) -> None:
    response = _browser(cast.operator).get("/")
    assert response.status_code == 302 and response["Location"] == "/platform/"


def test_the_admin_saves_the_policy_and_retention_pages(cast) -> None:
    from search.selectors import policy_of, retention_of

    admin = _browser(cast.admin)
    response = admin.post("/policy/", {"allowed_offences": ["homicide", "robbery"],
                                       "max_candidates": 5, "target_false_match_rate": 0.5,
                                       "authorization_days": 14}, follow=True)
    assert b"Search policy saved" in response.content
    assert policy_of(cast.agency).max_candidates == 5
    admin.post("/retention/", {"probe_days_after_close": 30, "probe_max_days": 400,
                               "unconfirmed_candidate_days": 60})
    assert retention_of(cast.agency).probe_days_after_close == 30
    refused = admin.post("/retention/", {"probe_days_after_close": 500, "probe_max_days": 400,
                                         "unconfirmed_candidate_days": 60})
    assert b"cannot be kept longer" in refused.content
    assert _browser(cast.officer).post("/retention/", {"probe_days_after_close": 1}).status_code == 403


def test_the_retention_api_reads_for_members_and_writes_for_the_admin(cast) -> None:
    from tests.fixtures import api_client

    assert api_client(cast.officer).get("/api/v1/retention/").json()["probe_days_after_close"] == 90
    assert api_client(cast.officer).patch("/api/v1/retention/", {"probe_max_days": 10},
                                          format="json").status_code == 403
    response = api_client(cast.admin).patch("/api/v1/retention/", {"probe_max_days": 500},
                                            format="json")
    assert response.status_code == 200 and response.json()["probe_max_days"] == 500

"""Opt-out, erasure by court order, retention and transparency, on real photos."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.models import AuditAction, AuditEvent
from portal.errors import ServiceError
from search.models import (
    Candidate,
    Face,
    LegalBasis,
    OptOutRequest,
    OptOutStatus,
    Search,
    Subject,
    Suppression,
)
from search.services import searching
from search.services.enrollment import face_enroll
from search.services.privacy import optout_approve, optout_submit
from tests import photos
from tests.factories import GalleryFactory, UserFactory, assigned_case
from tests.fixtures import api_client

PEOPLE = ["Colin_Powell", "Tony_Blair", "Laura_Bush", "Hugo_Chavez"]


@pytest.fixture
def operator(db) -> Any:
    return UserFactory(username="operator", is_staff=True, is_superuser=True)


@pytest.fixture
def opt_in_gallery(cast) -> Any:
    """A warrant gallery (honours opt-outs) with the first photo of four people."""
    gallery = GalleryFactory(agency=cast.agency, name="Warrants", legal_basis=LegalBasis.WARRANT,
                             honours_opt_outs=True)
    for name in PEOPLE:
        face_enroll(gallery=gallery, subject_reference=name, image=photos.photo(name, 0))
    return gallery


@pytest.fixture
def bookings(cast) -> Any:
    """An arrest-record gallery (held under a legal duty: opt-outs do not apply) with Powell."""
    gallery = GalleryFactory(agency=cast.agency, name="Bookings",
                             legal_basis=LegalBasis.ARREST_RECORD, honours_opt_outs=False)
    face_enroll(gallery=gallery, subject_reference="BK-Powell", image=photos.photo("Colin_Powell", 0))
    return gallery


def _search(cast: Any, person: str, index: int = 2) -> Search:
    case = assigned_case(cast.agency, cast.officer)
    search = searching.search_create(case=case, user=cast.officer, probe=photos.photo(person, index))
    searching.search_run(search_id=search.pk)
    search.refresh_from_db()
    return search


def _references(search: Search) -> list[str]:
    return [c.subject.reference for c in search.candidates.select_related("subject") if c.subject]


def test_an_approved_opt_out_removes_that_person_only(cast, operator, opt_in_gallery, bookings,
                                                      mailoutbox,
                                                      django_capture_on_commit_callbacks) -> None:
    before = _search(cast, "Colin_Powell")
    assert _references(before)[0] in ("Colin_Powell", "BK-Powell")
    request = optout_submit(photo=photos.photo("Colin_Powell", 1), email="cp@example.org",
                            residence="US, Illinois")
    photo_path = request.photo.path
    assert os.path.exists(photo_path)

    with django_capture_on_commit_callbacks(execute=True):  # files go once the rows are gone
        decided = optout_approve(request=request, actor=operator)

    assert decided.status == OptOutStatus.APPROVED and decided.faces_removed == 1
    assert not Face.objects.filter(gallery=opt_in_gallery, subject__reference="Colin_Powell").exists()
    assert Face.objects.filter(gallery=opt_in_gallery).count() == 3
    assert Face.objects.filter(gallery=bookings).count() == 1  # legal duty: kept
    assert not Subject.objects.filter(gallery=opt_in_gallery, reference="Colin_Powell").exists()
    assert not os.path.exists(photo_path) and not decided.photo and decided.embedding is None
    assert Suppression.objects.filter(request=decided).exists()
    redacted = Candidate.objects.filter(search=before, redacted__startswith="Removed: the person")
    assert redacted.count() == 1 and redacted.get().face is None

    after = _search(cast, "Colin_Powell")
    assert "Colin_Powell" not in _references(after)
    assert "BK-Powell" in _references(after)
    assert [m.to for m in mailoutbox] == [["cp@example.org"]]
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {AuditAction.OPT_OUT_RECEIVED, AuditAction.OPT_OUT_DECIDED, AuditAction.DELETION} <= actions


def test_an_opted_out_face_cannot_be_enrolled_again(cast, operator, opt_in_gallery, bookings) -> None:
    optout_approve(request=optout_submit(photo=photos.photo("Colin_Powell", 1), email="a@b.org",
                                         residence="FR"), actor=operator)
    with pytest.raises(ServiceError) as refused:
        face_enroll(gallery=opt_in_gallery, subject_reference="again",
                    image=photos.photo("Colin_Powell", 2))
    assert refused.value.code == "opted_out"
    face_enroll(gallery=opt_in_gallery, subject_reference="Serena",
                image=photos.photo("Serena_Williams", 0))  # anyone else still enrolls
    face_enroll(gallery=bookings, subject_reference="BK-Powell-2",
                image=photos.photo("Colin_Powell", 2))  # a legal-duty gallery still enrolls
    assert AuditEvent.objects.filter(action=AuditAction.ENROLLMENT_SUPPRESSED).count() == 1


def test_the_public_api_takes_a_request_without_an_account(db) -> None:
    photo = SimpleUploadedFile("me.jpg", photos.photo("Laura_Bush", 1), content_type="image/jpeg")
    response = APIClient().post("/api/v1/public/opt-out/", {
        "photo": photo, "email": "lb@example.org", "residence": "US, Texas"}, format="multipart")
    assert response.status_code == 201
    assert set(response.json()) == {"id", "status"} and response.json()["status"] == "pending"
    blank = SimpleUploadedFile("me.jpg", photos.blank_photo(), content_type="image/jpeg")
    refused = APIClient().post("/api/v1/public/opt-out/", {
        "photo": blank, "email": "x@example.org", "residence": "US"}, format="multipart")
    assert refused.status_code == 422 and refused.json()["code"] == "no_face"
    assert OptOutRequest.objects.count() == 1


def test_only_the_operator_decides(cast, operator, opt_in_gallery) -> None:
    request = optout_submit(photo=photos.photo("Tony_Blair", 1), email="t@b.org", residence="UK")
    url = f"/api/v1/platform/opt-outs/{request.pk}/approve/"
    assert api_client(cast.admin).post(url).status_code == 403
    assert api_client(cast.admin).get("/api/v1/platform/opt-outs/").status_code == 403
    response = api_client(operator).post(url, {"reason": "identity checked"}, format="json")
    assert response.status_code == 200 and response.json()["faces_removed"] == 1
    again = api_client(operator).post(url)
    assert again.status_code == 409


def test_a_court_order_erases_the_subject_and_redacts_past_results(
        cast, opt_in_gallery, django_capture_on_commit_callbacks) -> None:
    before = _search(cast, "Tony_Blair")
    subject = Subject.objects.get(gallery=opt_in_gallery, reference="Tony_Blair")
    files = [f.image.path for f in subject.faces.all()]
    url = f"/api/v1/subjects/{subject.pk}/erasure/"
    assert api_client(cast.officer).post(url, {"order_reference": "X"}).status_code == 403
    assert api_client(cast.other_admin).post(url, {"order_reference": "X"}).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(cast.admin).post(url, {"order_reference": "CR-2026-88",
                                                     "order_type": "expungement"})
    assert response.status_code == 201, response.content
    assert response.json()["faces_removed"] == 1
    assert not Subject.objects.filter(pk=subject.pk).exists()
    assert not any(os.path.exists(path) for path in files)
    shown = api_client(cast.officer).get(f"/api/v1/searches/{before.pk}/").json()["candidates"]
    removed = [c for c in shown if c["redacted"]]
    assert removed and removed[0]["redacted"] == "Removed by order CR-2026-88"
    assert removed[0]["face"] is None
    assert AuditEvent.objects.get(action=AuditAction.ERASURE_ORDER).details["order_reference"] == (
        "CR-2026-88")


def test_purge_deletes_expired_probes_and_candidates_and_keeps_the_rest(
        cast, opt_in_gallery, django_capture_on_commit_callbacks) -> None:
    old = _search(cast, "Hugo_Chavez")
    recent = _search(cast, "Laura_Bush")
    Search.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=4 * 365))
    old_files = [old.probe.path, old.probe_face.path]
    dry = call_command("purge_expired", "--dry-run")
    assert dry is None and all(os.path.exists(p) for p in old_files)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_expired")
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.probe_purged_at is not None and not old.probe and not old.probe_face
    assert not any(os.path.exists(p) for p in old_files)
    assert not old.candidates.exists()  # unconfirmed and older than a year
    assert recent.probe and os.path.exists(recent.probe.path) and recent.candidates.exists()
    assert Face.objects.filter(gallery=opt_in_gallery).count() == 4
    assert AuditEvent.objects.get(action=AuditAction.PURGE).details["probes"] == 1


def test_closed_cases_lose_their_probes_after_the_schedule(cast, opt_in_gallery) -> None:
    search = _search(cast, "Hugo_Chavez")
    case = search.case
    case.status, case.closed_at = "closed", timezone.now() - timedelta(days=91)
    case.save()
    call_command("purge_expired")
    search.refresh_from_db()
    assert search.probe_purged_at is not None


def test_the_transparency_page_is_computed_from_the_data(cast, opt_in_gallery) -> None:
    _search(cast, "Hugo_Chavez")
    _search(cast, "Laura_Bush")
    page = Client().get("/transparency/").content.decode()
    assert cast.agency.name in page
    assert 'class="searches-count">2<' in page
    assert "Robbery" in page and "90 days after the case closes" in page

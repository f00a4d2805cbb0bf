"""Opt-out, erasure by court order, retention and transparency, on real photos."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.audit.models import AuditAction, AuditEvent
from agencies.tenancy.permissions import SYSTEM
from portal.errors import ServiceError
from search.models import (
    Candidate,
    Face,
    Gallery,
    LegalBasis,
    OptOutConsultation,
    OptOutRequest,
    OptOutStatus,
    Search,
    Subject,
    Suppression,
)
from search.services import searching
from search.services.enrollment import face_enroll
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import api_client, web_client

PEOPLE = ["Colin_Powell", "Tony_Blair", "Laura_Bush", "Hugo_Chavez"]


@pytest.fixture
def opt_in_gallery(cast) -> Any:
    """A gallery under another statutory basis (honours opt-outs) with four people."""
    gallery = GalleryFactory(agency=cast.agency, name="Licensing photos",
                             legal_basis=LegalBasis.OTHER_STATUTE, honours_opt_outs=True)
    for name in PEOPLE:
        face_enroll(actor=SYSTEM, gallery=gallery, subject_reference=name, image=photos.photo(name, 0))
    return gallery


@pytest.fixture
def bookings(cast) -> Any:
    """An arrest-record gallery (held under a legal duty: opt-outs do not apply) with Powell."""
    gallery = GalleryFactory(agency=cast.agency, name="Bookings",
                             legal_basis=LegalBasis.ARREST_RECORD, honours_opt_outs=False)
    face_enroll(actor=SYSTEM,
                gallery=gallery, subject_reference="BK-Powell", image=photos.photo("Colin_Powell", 0))
    return gallery


def _search(cast: Any, person: str, index: int = 2) -> Search:
    case = assigned_case(cast.agency, cast.officer)
    search = searching.search_create(case=case, user=cast.officer, probe=photos.photo(person, index))
    searching.search_run(search_id=search.pk)
    search.refresh_from_db()
    return search


def _references(search: Search) -> list[str]:
    return [c.subject.reference for c in search.candidates.select_related("subject") if c.subject]


def _file(person: str, email: str, index: int = 1) -> OptOutRequest:
    """File a request on the public page, as anyone can, with a photo of `person`."""
    photo = SimpleUploadedFile("me.jpg", photos.photo(person, index), content_type="image/jpeg")
    response = Client().post("/opt-out/", {"photo": photo, "email": email, "residence": "US, Ohio"})
    assert response.status_code == 200 and b"Check your e-mail" in response.content
    return OptOutRequest.objects.latest("pk")


def _link(mailbox: list[Any], email: str) -> str:
    body = [m for m in mailbox if m.to == [email]][-1].body
    return "/" + re.search(r"https?://[^/]+/(opt-out/confirm/\S+/)", body).group(1)  # type: ignore[union-attr]


def _filed_and_confirmed(person: str, email: str, mailbox: list[Any]) -> OptOutRequest:
    request = _file(person, email)
    response = Client().post(_link(mailbox, email))
    assert response.status_code == 200 and b"is confirmed" in response.content
    request.refresh_from_db()
    assert request.status == OptOutStatus.PENDING
    used = Client().get(_link(mailbox, email))  # the link again: nothing left to confirm
    assert used.status_code == 404 and b"Confirm my request" not in used.content
    return request


def _consult(operator: Any, request: OptOutRequest) -> dict[str, Any]:
    response = api_client(operator).post(f"/api/v1/platform/opt-outs/{request.pk}/consult/")
    assert response.status_code == 200, response.content
    return dict(response.json())


def _let_the_deadline_pass(request: OptOutRequest) -> None:
    OptOutConsultation.objects.filter(request=request).update(
        deadline=timezone.now() - timedelta(seconds=1))


def _approve(operator: Any, request: OptOutRequest) -> Any:
    return api_client(operator).post(f"/api/v1/platform/opt-outs/{request.pk}/approve/",
                                     {"reason": "identity checked"}, format="json")


def test_an_unconfirmed_email_never_reaches_review(cast, operator, opt_in_gallery, mailoutbox,
                                                   django_capture_on_commit_callbacks) -> None:
    request = _file("Colin_Powell", "someone@example.org")
    assert request.status == OptOutStatus.UNCONFIRMED
    assert "/opt-out/confirm/" in mailoutbox[0].body and mailoutbox[0].to == ["someone@example.org"]
    assert api_client(operator).get("/api/v1/platform/opt-outs/").json()["count"] == 0
    page = web_client(operator).get("/platform/opt-outs/").content.decode()
    assert f"Request {request.pk}</strong>" not in page and "1 not confirmed yet" in page
    assert api_client(operator).post(
        f"/api/v1/platform/opt-outs/{request.pk}/consult/").status_code == 404
    assert web_client(operator).post(f"/platform/opt-outs/{request.pk}/decide/",
                                     {"decision": "consult"}).status_code == 404
    wrong = Client().post("/opt-out/confirm/not-the-token/")
    assert wrong.status_code == 404 and b"Send your request again" in wrong.content
    assert Client().get(_link(mailoutbox, "someone@example.org")).status_code == 200  # a scanner
    request.refresh_from_db()
    assert request.status == OptOutStatus.UNCONFIRMED
    assert b"Confirm my request" not in Client().get("/opt-out/confirm/not-the-token/").content

    photo_path = request.photo.path
    OptOutRequest.objects.filter(pk=request.pk).update(
        created_at=timezone.now() - timedelta(hours=49))
    late = Client().post(_link(mailoutbox, "someone@example.org"))
    assert late.status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_expired")
    assert not OptOutRequest.objects.filter(pk=request.pk).exists()
    assert not os.path.exists(photo_path)
    assert AuditEvent.objects.get(action=AuditAction.OPT_OUT_EXPIRED).details["requests"] == [
        request.pk]
    assert Face.objects.filter(gallery=opt_in_gallery).count() == 4


def test_someone_elses_photo_removes_nothing_from_a_warrant_gallery(cast, operator, mailoutbox) -> None:
    created = api_client(cast.admin).post("/api/v1/galleries/", {
        "name": "Warrants", "source": "Court", "legal_basis": "warrant"}, format="json")
    assert created.status_code == 201, created.content
    warrants = Gallery.objects.get(pk=created.json()["id"])
    missing = GalleryFactory(agency=cast.agency, legal_basis=LegalBasis.MISSING_PERSON)
    assert not warrants.honours_opt_outs and not warrants.opt_outs_apply
    face_enroll(actor=SYSTEM,
                gallery=warrants, subject_reference="W-Powell", image=photos.photo("Colin_Powell", 0))
    face_enroll(actor=SYSTEM,
                gallery=missing, subject_reference="M-Powell", image=photos.photo("Colin_Powell", 2))

    request = _filed_and_confirmed("Colin_Powell", "not-powell@example.org", mailoutbox)
    consulted = _consult(operator, request)
    assert consulted["consultations"] == []
    approved = _approve(operator, request)
    assert approved.status_code == 200 and approved.json()["faces_removed"] == 0

    assert Face.objects.filter(gallery__in=[warrants, missing]).count() == 2
    assert "W-Powell" in _references(_search(cast, "Colin_Powell"))
    face_enroll(actor=SYSTEM, gallery=warrants, subject_reference="W-Powell-2",
                image=photos.photo("Colin_Powell", 2))  # no suppression of a warrant gallery
    with pytest.raises(IntegrityError), transaction.atomic():  # nor the admin site, nor SQL
        Gallery.objects.filter(pk=warrants.pk).update(honours_opt_outs=True)


def test_an_agency_objection_keeps_its_faces(cast, operator, opt_in_gallery, mailoutbox,
                                              django_capture_on_commit_callbacks) -> None:
    theirs = GalleryFactory(agency=cast.other_agency, legal_basis=LegalBasis.OTHER_STATUTE,
                            honours_opt_outs=True)
    face_enroll(actor=SYSTEM,
                gallery=theirs, subject_reference="S-Powell", image=photos.photo("Colin_Powell", 0))
    request = _filed_and_confirmed("Colin_Powell", "cp@example.org", mailoutbox)

    consulted = _consult(operator, request)
    counts = {c["agency"]: c["faces"] for c in consulted["consultations"]}
    assert counts == {cast.agency.pk: 1, cast.other_agency.pk: 1}
    assert "Colin_Powell" not in str(consulted) and "S-Powell" not in str(consulted)
    assert _approve(operator, request).status_code == 409  # agencies may still object

    mine = api_client(cast.admin).get("/api/v1/opt-out-reviews/").json()["results"]
    assert [f["subject_reference"] for f in mine[0]["faces"]] == ["Colin_Powell"]
    url = f"/api/v1/opt-out-reviews/{mine[0]['id']}/"
    assert api_client(cast.other_admin).get(url).status_code == 404
    assert api_client(cast.other_admin).post(url + "confirm/").status_code == 404
    assert api_client(cast.officer).post(url + "object/", {"reason": "x"}).status_code == 403
    bare = api_client(cast.admin).post(url + "object/", {"reason": ""}, format="json")
    assert bare.status_code == 400 and bare.json()["code"] == "reason_required"
    objected = api_client(cast.admin).post(url + "object/",
                                           {"reason": "Held under statute 12-3"}, format="json")
    assert objected.status_code == 200 and objected.json()["answer"] == "objected"
    theirs_id = OptOutConsultation.objects.get(agency=cast.other_agency).pk
    page = web_client(cast.other_admin).post(f"/opt-out-reviews/{theirs_id}/", {"answer": "confirm"})
    assert page.status_code == 302

    with django_capture_on_commit_callbacks(execute=True):
        assert _approve(operator, request).json()["faces_removed"] == 1
    assert Face.objects.filter(gallery=opt_in_gallery, subject__reference="Colin_Powell").exists()
    assert not Face.objects.filter(gallery=theirs).exists()
    objection = AuditEvent.objects.get(action=AuditAction.OPT_OUT_ANSWERED, chain=cast.agency.pk)
    assert objection.details["reason"] == "Held under statute 12-3"
    assert AuditEvent.objects.filter(action=AuditAction.DELETION, chain=cast.other_agency.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.DELETION, chain=cast.agency.pk).exists()
    assert [m.to for m in mailoutbox][-1] == ["cp@example.org"]
    face_enroll(actor=SYSTEM, gallery=opt_in_gallery, subject_reference="CP-2",
                image=photos.photo("Colin_Powell", 2))  # the objecting agency still enrolls
    with pytest.raises(ServiceError):  # the agency that confirmed does not
        face_enroll(actor=SYSTEM, gallery=theirs, subject_reference="S-Powell-2",
                    image=photos.photo("Colin_Powell", 2))


def test_silence_confirms_the_operator_restores_and_the_purge_deletes_after_the_grace(
        cast, operator, opt_in_gallery, mailoutbox, django_capture_on_commit_callbacks) -> None:
    earlier = _search(cast, "Colin_Powell")
    request = _filed_and_confirmed("Colin_Powell", "cp@example.org", mailoutbox)
    operator_web = web_client(operator)
    consulted = operator_web.post(f"/platform/opt-outs/{request.pk}/decide/", {"decision": "consult"},
                                  follow=True).content.decode()
    assert "1 agency(ies) asked" in consulted and "counts as confirmation" in consulted
    agency_page = web_client(cast.admin).get("/opt-out-reviews/").content.decode()
    assert "No answer by the deadline counts as confirmation" in agency_page
    _let_the_deadline_pass(request)
    approved = operator_web.post(f"/platform/opt-outs/{request.pk}/decide/",
                                 {"decision": "approve"}, follow=True).content.decode()
    assert "1 face(s) removed" in approved

    face = Face.all_objects.get(gallery=opt_in_gallery, subject__reference="Colin_Powell")
    assert face.removed_at is not None and os.path.exists(face.image.path)
    assert "Colin_Powell" not in _references(_search(cast, "Colin_Powell"))
    gallery_page = web_client(cast.admin).get(f"/galleries/{opt_in_gallery.pk}/").content.decode()
    assert "Colin_Powell" not in gallery_page
    assert web_client(cast.officer).get(f"/images/faces/{face.pk}/").status_code == 404
    rank = Candidate.objects.get(search=earlier, face_id=face.pk).rank
    shown_at = f"/images/searches/{earlier.pk}/candidates/{rank}/"
    assert web_client(cast.officer).get(shown_at).status_code == 404
    panel = web_client(cast.officer).get(f"/searches/{earlier.pk}/panel/").content.decode()
    assert shown_at not in panel and "Removed" in panel
    lapsed = AuditEvent.objects.get(action=AuditAction.OPT_OUT_ANSWERED, chain=cast.agency.pk)
    assert lapsed.details["answer"] == "lapsed"
    with pytest.raises(ServiceError):  # suppressed while removed
        face_enroll(actor=SYSTEM, gallery=opt_in_gallery, subject_reference="again",
                    image=photos.photo("Colin_Powell", 2))

    restored = operator_web.post(f"/platform/opt-outs/{request.pk}/decide/",
                                 {"decision": "restore", "reason": "Wrong person: a look-alike"},
                                 follow=True).content.decode()
    assert "restored" in restored
    assert Face.objects.filter(pk=face.pk).exists()
    assert "Colin_Powell" in _references(_search(cast, "Colin_Powell"))
    panel = web_client(cast.officer).get(f"/searches/{earlier.pk}/panel/").content.decode()
    assert shown_at in panel and web_client(cast.officer).get(shown_at).status_code == 200
    assert not Suppression.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.OPT_OUT_RESTORED, chain=cast.agency.pk,
                                     details__reason="Wrong person: a look-alike").exists()
    assert AuditEvent.objects.filter(action=AuditAction.OPT_OUT_RESTORED, chain=0).exists()

    before = _search(cast, "Tony_Blair")
    second = _filed_and_confirmed("Tony_Blair", "tb@example.org", mailoutbox)
    _consult(operator, second)
    _let_the_deadline_pass(second)
    assert _approve(operator, second).json()["faces_removed"] == 1
    blair = Face.all_objects.get(gallery=opt_in_gallery, subject__reference="Tony_Blair")
    call_command("purge_expired")
    assert Face.all_objects.filter(pk=blair.pk).exists()  # within the grace period
    Face.all_objects.filter(pk=blair.pk).update(removed_at=timezone.now() - timedelta(days=31))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_expired")
    assert not Face.all_objects.filter(pk=blair.pk).exists() and not os.path.exists(blair.image.path)
    assert not Subject.objects.filter(gallery=opt_in_gallery, reference="Tony_Blair").exists()
    assert Face.objects.filter(gallery=opt_in_gallery).count() == 3
    assert before.candidates.get(redacted="Removed: the person opted out").face is None
    assert AuditEvent.objects.filter(action=AuditAction.DELETION, chain=cast.agency.pk,
                                     details__grace_ended=True).exists()


def test_the_public_api_takes_a_request_without_an_account(db, mailoutbox) -> None:
    photo = SimpleUploadedFile("me.jpg", photos.photo("Laura_Bush", 1), content_type="image/jpeg")
    response = APIClient().post("/api/v1/public/opt-out/", {
        "photo": photo, "email": "lb@example.org", "residence": "US, Texas"}, format="multipart")
    assert response.status_code == 201
    assert set(response.json()) == {"id", "status"} and response.json()["status"] == "unconfirmed"
    assert mailoutbox[0].to == ["lb@example.org"]
    blank = SimpleUploadedFile("me.jpg", photos.blank_photo(), content_type="image/jpeg")
    refused = APIClient().post("/api/v1/public/opt-out/", {
        "photo": blank, "email": "x@example.org", "residence": "US"}, format="multipart")
    assert refused.status_code == 422 and refused.json()["code"] == "no_face"
    assert OptOutRequest.objects.count() == 1


def test_only_the_operator_decides(cast, operator, opt_in_gallery, mailoutbox) -> None:
    request = _filed_and_confirmed("Tony_Blair", "t@b.org", mailoutbox)
    url = f"/api/v1/platform/opt-outs/{request.pk}/"
    assert api_client(cast.admin).post(url + "consult/").status_code == 403
    assert api_client(cast.admin).get("/api/v1/platform/opt-outs/").status_code == 403
    assert api_client(operator).post(url + "approve/").status_code == 409  # consult first
    _consult(operator, request)
    _let_the_deadline_pass(request)
    assert api_client(cast.admin).post(url + "approve/").status_code == 403
    response = api_client(operator).post(url + "approve/", {"reason": "identity checked"},
                                         format="json")
    assert response.status_code == 200 and response.json()["faces_removed"] == 1
    assert api_client(operator).post(url + "approve/").status_code == 409
    assert api_client(cast.admin).post(url + "restore/", {"reason": "x"}).status_code == 403
    review = api_client(cast.admin).get("/api/v1/opt-out-reviews/").json()["results"][0]
    late = api_client(cast.admin).post(f"/api/v1/opt-out-reviews/{review['id']}/object/",
                                       {"reason": "too late"}, format="json")
    assert late.status_code == 409 and review["answer"] == "lapsed"


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
    assert f"No searches in {timezone.now().year - 1}." in page  # no zero counts as headings
    assert "Robbery" in page and "90 days after the case closes" in page


def test_the_transparency_page_says_when_its_cached_figures_were_computed(cast) -> None:
    from django.core.cache import cache

    cache.clear()
    before = timezone.now().replace(second=0, microsecond=0)
    first = Client().get("/transparency/").content.decode()
    stamp = re.search(r"as of <time datetime=\"([^\"]+)\">(\d{4}-\d\d-\d\d \d\d:\d\d) UTC</time>", first)
    assert stamp is not None, "the page says when its figures were computed"
    assert stamp.group(2) >= before.strftime("%Y-%m-%d %H:%M")
    again = Client().get("/transparency/").content.decode()
    assert stamp.group(0) in again  # the same cached figures, the same time: no false "now"

"""The operator rejects an opt-out request, on the page or through the API: with a reason the
person is sent, audited on the platform chain, and the request keeps no photo (nor its
embedding); no face is touched. Nobody else may reject, and a decided request stays decided."""

from __future__ import annotations

import os
from typing import Any

import pytest

from agencies.audit.models import AuditAction, AuditEvent
from agencies.tenancy.permissions import SYSTEM
from search.models import Face, LegalBasis, OptOutRequest, OptOutStatus
from search.services.enrollment import face_enroll
from search.tests.test_privacy import PEOPLE, _consult, _filed_and_confirmed
from tests import photos
from tests.factories import GalleryFactory
from tests.fixtures import api_client, web_client

REASON = "The photo shows someone else than the mailbox's owner"


@pytest.fixture
def pending(cast, mailoutbox) -> OptOutRequest:
    """A confirmed request of someone enrolled in a gallery that honours opt-outs."""
    gallery = GalleryFactory(agency=cast.agency, legal_basis=LegalBasis.OTHER_STATUTE,
                             honours_opt_outs=True)
    for name in PEOPLE:
        face_enroll(actor=SYSTEM, gallery=gallery, subject_reference=name, image=photos.photo(name, 0))
    request = _filed_and_confirmed("Tony_Blair", "tb@example.org", mailoutbox)
    assert request.photo and os.path.exists(request.photo.path) and request.embedding is not None
    return request


def _assert_rejected_without_a_photo(request: OptOutRequest, photo_path: str, operator: Any) -> None:
    request.refresh_from_db()
    assert request.status == OptOutStatus.REJECTED
    assert (request.decided_by, request.decision_reason) == (operator, REASON)
    assert request.decided_at is not None
    assert not request.photo and request.embedding is None
    assert not os.path.exists(photo_path)  # deleted once the decision committed
    [event] = AuditEvent.objects.filter(action=AuditAction.OPT_OUT_DECIDED)
    assert (event.actor, event.agency, event.chain) == (operator, None, 0)
    assert event.details == {"decision": "rejected", "reason": REASON}
    assert Face.objects.count() == len(PEOPLE)  # a rejection removes nothing


def test_the_operator_rejects_through_the_api(cast, pending, mailoutbox,
                                              django_capture_on_commit_callbacks) -> None:
    photo_path = pending.photo.path
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(cast.operator).post(
            f"/api/v1/platform/opt-outs/{pending.pk}/reject/", {"reason": REASON}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "rejected"
    _assert_rejected_without_a_photo(pending, photo_path, cast.operator)
    assert mailoutbox[-1].to == ["tb@example.org"]
    assert f"was not approved. Reason: {REASON}" in mailoutbox[-1].body


def test_the_operator_rejects_on_the_page_and_the_photo_is_gone(
        cast, pending, django_capture_on_commit_callbacks) -> None:
    photo_path = pending.photo.path
    page = web_client(cast.operator)
    assert page.get(f"/platform/opt-outs/{pending.pk}/photo/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = page.post(f"/platform/opt-outs/{pending.pk}/decide/",
                             {"decision": "reject", "reason": REASON}, follow=True)
    assert response.status_code == 200
    assert f"Request {pending.pk} rejected." in response.content.decode()
    _assert_rejected_without_a_photo(pending, photo_path, cast.operator)
    gone = page.get(f"/platform/opt-outs/{pending.pk}/photo/")
    assert gone.status_code == 404


def test_a_request_under_consultation_can_be_rejected(cast, pending,
                                                      django_capture_on_commit_callbacks) -> None:
    _consult(cast.operator, pending)
    photo_path = pending.photo.path
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(cast.operator).post(
            f"/api/v1/platform/opt-outs/{pending.pk}/reject/", {"reason": REASON}, format="json")
    assert response.status_code == 200, response.content
    _assert_rejected_without_a_photo(pending, photo_path, cast.operator)


def test_a_rejection_needs_a_reason(cast, pending) -> None:
    api = api_client(cast.operator).post(f"/api/v1/platform/opt-outs/{pending.pk}/reject/",
                                         {"reason": "  "}, format="json")
    assert api.status_code == 400 and api.json()["code"] == "reason_required"
    page = web_client(cast.operator).post(f"/platform/opt-outs/{pending.pk}/decide/",
                                          {"decision": "reject", "reason": ""}, follow=True)
    assert "Say why the request is rejected" in page.content.decode()
    pending.refresh_from_db()
    assert pending.status == OptOutStatus.PENDING and pending.photo
    assert not AuditEvent.objects.filter(action=AuditAction.OPT_OUT_DECIDED).exists()


def test_a_rejected_request_cannot_be_decided_again(cast, pending) -> None:
    url = f"/api/v1/platform/opt-outs/{pending.pk}/"
    client = api_client(cast.operator)
    assert client.post(url + "reject/", {"reason": REASON}, format="json").status_code == 200
    for step in ("reject/", "approve/", "consult/"):
        again = client.post(url + step, {"reason": "changed my mind"}, format="json")
        assert again.status_code == 409 and again.json()["code"] == "wrong_state", step
    pending.refresh_from_db()
    assert pending.status == OptOutStatus.REJECTED and pending.decision_reason == REASON
    assert AuditEvent.objects.filter(action=AuditAction.OPT_OUT_DECIDED).count() == 1


def test_only_the_operator_rejects(cast, pending) -> None:
    for user in (cast.admin, cast.supervisor, cast.auditor, cast.other_admin):
        api = api_client(user).post(f"/api/v1/platform/opt-outs/{pending.pk}/reject/",
                                    {"reason": REASON}, format="json")
        assert api.status_code == 403, user
        page = web_client(user).post(f"/platform/opt-outs/{pending.pk}/decide/",
                                     {"decision": "reject", "reason": REASON})
        assert page.status_code == 403, user
    pending.refresh_from_db()
    assert pending.status == OptOutStatus.PENDING and pending.photo
    assert not AuditEvent.objects.filter(action=AuditAction.OPT_OUT_DECIDED).exists()

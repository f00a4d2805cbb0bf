"""Every security-relevant action leaves an event with who, which agency, what, when and where."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from agencies.audit.models import AuditAction, AuditEvent, AuditOutcome
from search.models import CaseStatus
from tests import photos
from tests.factories import CaseFactory, GalleryFactory, assigned_case
from tests.fixtures import api_client


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def test_sign_in_and_failure_are_recorded_with_the_address(cast) -> None:
    Client(REMOTE_ADDR="10.1.2.3").post("/accounts/login/", {"username": "alice", "password": "x"})
    Client(REMOTE_ADDR="10.1.2.4").post("/accounts/login/", {
        "username": "alice", "password": "correct-horse-battery-staple"})
    [failed] = _events(AuditAction.SIGN_IN_FAILED)
    [ok] = _events(AuditAction.SIGN_IN)
    assert failed.agency == cast.agency and failed.outcome == AuditOutcome.FAILURE
    assert failed.actor_name == "alice" and failed.ip == "10.1.2.3"
    assert ok.actor == cast.officer and ok.ip == "10.1.2.4"


def test_a_search_is_recorded_with_its_case_and_justification(cast) -> None:
    case = assigned_case(cast.agency, cast.officer, justification="Bank robbery CCTV")
    probe = SimpleUploadedFile("p.jpg", photos.photo("Colin_Powell", 2), content_type="image/jpeg")
    api_client(cast.officer).post("/api/v1/searches/", {"case": case.pk, "probe": probe},
                                  format="multipart")
    [event] = _events(AuditAction.SEARCH_RUN)
    assert event.details["case_number"] == case.case_number
    assert event.details["justification"] == "Bank robbery CCTV"
    assert event.object_type == "search"


def test_each_refusal_is_recorded_with_its_reason(cast) -> None:
    case = assigned_case(cast.agency, cast.officer, status=CaseStatus.PENDING)
    probe = SimpleUploadedFile("p.jpg", photos.photo("Colin_Powell", 2), content_type="image/jpeg")
    api_client(cast.officer).post("/api/v1/searches/", {"case": case.pk, "probe": probe},
                                  format="multipart")
    [event] = _events(AuditAction.SEARCH_REFUSED)
    assert event.outcome == AuditOutcome.REFUSED
    assert event.details["code"] == "case_not_approved"


def test_case_decisions_assignment_enrollment_and_settings_are_recorded(cast) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.officer, status=CaseStatus.PENDING)
    api_client(cast.supervisor).post(f"/api/v1/cases/{case.pk}/approve/", {"reason": "W-1"})
    api_client(cast.supervisor).post(f"/api/v1/cases/{case.pk}/assign/", {"user": "alice"})
    gallery = GalleryFactory(agency=cast.agency)
    image = SimpleUploadedFile("p.jpg", photos.photo("Tony_Blair", 0), content_type="image/jpeg")
    api_client(cast.admin).post(f"/api/v1/galleries/{gallery.pk}/faces/",
                                {"image": image, "subject_reference": "BK-1"}, format="multipart")
    api_client(cast.admin).patch("/api/v1/policy/", {"max_candidates": 5}, format="json")
    for action in (AuditAction.CASE_APPROVED, AuditAction.OFFICER_ASSIGNED, AuditAction.ENROLLMENT,
                   AuditAction.SETTINGS_CHANGED):
        [event] = _events(action)
        assert event.agency == cast.agency, action
    settings_event = _events(AuditAction.SETTINGS_CHANGED)[0]
    assert settings_event.details["before"]["max_candidates"] == 10
    assert settings_event.details["after"]["max_candidates"] == 5

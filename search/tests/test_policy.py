"""The agency's search policy is enforced: offences, expiry, candidates shown, threshold."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from agencies.audit.models import AuditAction, AuditEvent
from search.models import Case, CaseStatus, Search
from search.selectors import policy_of
from search.services.cases import cases_expire
from tests import photos
from tests.factories import CaseFactory, assigned_case
from tests.fixtures import api_client


def _search(user: Any, case: Case) -> Any:
    probe = SimpleUploadedFile("p.jpg", photos.photo("Colin_Powell", 2), content_type="image/jpeg")
    return api_client(user).post("/api/v1/searches/", {"case": case.pk, "probe": probe},
                                 format="multipart")


def test_the_default_policy_allows_only_serious_offences(cast) -> None:
    policy = policy_of(cast.agency)
    assert "robbery" in policy.allowed_offences and "theft" not in policy.allowed_offences
    assert (policy.max_candidates, policy.target_false_match_rate, policy.authorization_days) == (
        10, 0.01, 30)


def test_a_case_for_an_offence_not_allowed_cannot_be_opened(cast) -> None:
    response = api_client(cast.officer).post("/api/v1/cases/", {
        "case_number": "T-1", "offence_category": "theft", "justification": "shoplifting"})
    assert response.status_code == 403
    assert response.json()["code"] == "offence_not_allowed"
    assert not Case.objects.exists()


def test_a_search_is_refused_when_the_policy_no_longer_allows_the_offence(cast) -> None:
    case = assigned_case(cast.agency, cast.officer, offence_category="robbery")
    api_client(cast.admin).patch("/api/v1/policy/", {"allowed_offences": ["homicide"]},
                                 format="json")
    response = _search(cast.officer, case)
    assert response.status_code == 403
    assert response.json()["code"] == "offence_not_allowed"
    assert not Search.objects.exists()


def test_an_expired_authorization_refuses_searches(cast) -> None:
    case = assigned_case(cast.agency, cast.officer, expires_at=timezone.now() - timedelta(hours=1))
    response = _search(cast.officer, case)
    assert response.status_code == 409
    assert response.json()["code"] == "authorization_expired"
    assert "renew" in response.json()["detail"]


def test_the_daily_job_marks_expired_cases_and_audits_them(cast) -> None:
    case = assigned_case(cast.agency, cast.officer, expires_at=timezone.now() - timedelta(hours=1))
    live = assigned_case(cast.agency, cast.officer)
    assert cases_expire() == 1
    case.refresh_from_db()
    live.refresh_from_db()
    assert case.status == CaseStatus.EXPIRED and live.status == CaseStatus.APPROVED
    assert AuditEvent.objects.get(action=AuditAction.CASE_EXPIRED).object_id == str(case.pk)
    assert _search(cast.officer, case).json()["code"] == "authorization_expired"


def test_a_supervisor_cannot_approve_a_case_they_opened(cast) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.supervisor, status=CaseStatus.PENDING)
    response = api_client(cast.supervisor).post(f"/api/v1/cases/{case.pk}/approve/")
    assert response.status_code == 403 and response.json()["code"] == "self_approval"


def test_a_rejection_needs_a_reason_and_is_final(cast) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.officer, status=CaseStatus.PENDING)
    client = api_client(cast.supervisor)
    assert client.post(f"/api/v1/cases/{case.pk}/reject/", {"reason": ""}).json()["code"] == (
        "reason_required")
    assert client.post(f"/api/v1/cases/{case.pk}/reject/",
                       {"reason": "No warrant"}).status_code == 200
    response = client.post(f"/api/v1/cases/{case.pk}/approve/")
    assert response.status_code == 409 and response.json()["code"] == "case_already_decided"
    assert _search(cast.officer, case).json()["code"] == "case_not_approved"


def test_only_the_agency_admin_changes_the_policy(cast) -> None:
    response = api_client(cast.supervisor).patch("/api/v1/policy/", {"max_candidates": 50},
                                                 format="json")
    assert response.status_code == 403
    assert policy_of(cast.agency).max_candidates == 10
    assert api_client(cast.officer).get("/api/v1/policy/").json()["max_candidates"] == 10


def test_policy_values_are_validated(cast) -> None:
    response = api_client(cast.admin).patch("/api/v1/policy/", {"target_false_match_rate": 0.5},
                                            format="json")
    assert response.status_code == 400


def test_a_search_keeps_the_policy_it_ran_under(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    api_client(cast.admin).patch("/api/v1/policy/", {"max_candidates": 3}, format="json")
    search = Search.objects.get(pk=_search(cast.officer, case).json()["id"])
    assert search.policy["max_candidates"] == 3

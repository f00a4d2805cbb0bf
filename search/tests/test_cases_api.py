"""GET/POST /api/v1/cases/ and the supervisor's decisions."""

from __future__ import annotations

from search.models import Case, CaseStatus
from tests.factories import CaseFactory
from tests.fixtures import api_client

NEW_CASE = {"case_number": "2026-0042", "offence_category": "robbery",
            "justification": "CCTV still from the bank", "authorization_reference": "W-778"}


def test_an_officer_opens_a_case_awaiting_approval(cast) -> None:
    response = api_client(cast.officer).post("/api/v1/cases/", NEW_CASE)
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["id"])
    assert case.status == CaseStatus.PENDING and case.agency == cast.agency
    assert case.opened_by == cast.officer
    assert cast.officer.has_perm("search.search_in_case", case)


def test_a_duplicate_case_number_is_refused_with_409(cast) -> None:
    api_client(cast.officer).post("/api/v1/cases/", NEW_CASE)
    response = api_client(cast.officer).post("/api/v1/cases/", NEW_CASE)
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_case_number"


def test_an_unknown_offence_category_is_a_field_error(cast) -> None:
    response = api_client(cast.officer).post("/api/v1/cases/", {**NEW_CASE,
                                                                "offence_category": "jaywalking"})
    assert response.status_code == 400
    assert "offence_category" in response.json()["errors"]


def test_an_auditor_cannot_open_a_case(cast) -> None:
    assert api_client(cast.auditor).post("/api/v1/cases/", NEW_CASE).status_code == 403


def test_a_supervisor_approves_for_a_limited_time(cast) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.officer, status=CaseStatus.PENDING,
                       expires_at=None)
    response = api_client(cast.supervisor).post(f"/api/v1/cases/{case.pk}/approve/",
                                                {"reason": "Warrant W-778 seen"})
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED and case.decided_by == cast.supervisor
    assert (case.expires_at - case.decided_at).days == 30


def test_an_officer_cannot_approve(cast) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.officer, status=CaseStatus.PENDING)
    response = api_client(cast.officer).post(f"/api/v1/cases/{case.pk}/approve/")
    assert response.status_code == 403
    assert response.json()["code"] == "supervisor_required"
    case.refresh_from_db()
    assert case.status == CaseStatus.PENDING


def test_a_supervisor_assigns_an_officer_of_the_agency_only(cast) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.supervisor)
    client = api_client(cast.supervisor)
    assert client.post(f"/api/v1/cases/{case.pk}/assign/", {"user": "alice"}).status_code == 200
    assert cast.officer.has_perm("search.search_in_case", case)
    response = client.post(f"/api/v1/cases/{case.pk}/assign/", {"user": "charlie"})
    assert response.status_code == 404
    assert not cast.other_officer.has_perm("search.search_in_case", case)


def test_cases_of_another_agency_are_invisible(cast) -> None:
    theirs = CaseFactory(agency=cast.other_agency, opened_by=cast.other_officer)
    client = api_client(cast.officer)
    assert client.get(f"/api/v1/cases/{theirs.pk}/").status_code == 404
    assert client.get("/api/v1/cases/").json()["results"] == []
    assert api_client(cast.supervisor).post(f"/api/v1/cases/{theirs.pk}/approve/").status_code == 404

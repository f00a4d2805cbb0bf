"""Closing a case: the officer who opened it or a supervisor may, once; it is audited, and the
case then takes no more searches. Through the service, the API and the page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from agencies.audit.models import AuditAction, AuditEvent
from portal.errors import ServiceError
from search.models import Case, CaseStatus, Search
from search.services.cases import case_close
from tests import photos
from tests.factories import assigned_case, member
from tests.fixtures import api_client, web_client


def _closed_events(case: Case) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.CASE_CLOSED, object_id=str(case.pk)))


def _search_form(case: Case) -> str:
    return f'action="/cases/{case.pk}/searches/"'


def test_the_officer_who_opened_the_case_closes_it_and_it_is_audited(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    closed = case_close(case=case, actor=cast.officer)
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None
    assert closed.closed_at == case.closed_at
    [event] = _closed_events(case)
    assert (event.actor, event.agency, event.object_type) == (cast.officer, cast.agency, "case")
    assert event.details["case_number"] == case.case_number


def test_a_supervisor_closes_a_case_through_the_api(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    response = api_client(cast.supervisor).post(f"/api/v1/cases/{case.pk}/close/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed"
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED
    assert [e.actor for e in _closed_events(case)] == [cast.supervisor]


@pytest.mark.parametrize("who", ["admin", "auditor", "another officer"])
def test_nobody_else_of_the_agency_may_close_a_case(cast, who: str) -> None:
    case = assigned_case(cast.agency, cast.officer)
    user = {"admin": cast.admin, "auditor": cast.auditor,
            "another officer": member(cast.agency, "officer", "frank")}[who]
    response = api_client(user).post(f"/api/v1/cases/{case.pk}/close/")
    assert response.status_code == 403, response.content
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED and case.closed_at is None
    assert _closed_events(case) == []


def test_the_service_refuses_another_agencys_supervisor(cast) -> None:
    """The service checks the agency itself: a queued task or a script has no view to do it."""
    case = assigned_case(cast.agency, cast.officer)
    other_supervisor = member(cast.other_agency, "supervisor", "sid")
    with pytest.raises(ServiceError) as refused:
        case_close(case=case, actor=other_supervisor)
    assert refused.value.status == 403
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED and _closed_events(case) == []


def test_another_agency_gets_404_for_the_case(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    assert api_client(cast.other_officer).post(f"/api/v1/cases/{case.pk}/close/").status_code == 404
    assert web_client(cast.other_officer).post(f"/cases/{case.pk}/close/").status_code == 404
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED


def test_closing_twice_is_refused_and_audited_once(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    client = api_client(cast.officer)
    assert client.post(f"/api/v1/cases/{case.pk}/close/").status_code == 200
    first = Case.objects.get(pk=case.pk).closed_at
    again = client.post(f"/api/v1/cases/{case.pk}/close/")
    assert again.status_code == 409
    assert again.json()["code"] == "case_closed" and "already closed" in again.json()["detail"]
    case.refresh_from_db()
    assert case.closed_at == first and len(_closed_events(case)) == 1


def test_the_page_closes_the_case_says_so_and_offers_no_search(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    page = web_client(cast.officer)
    before = page.get(f"/cases/{case.pk}/").content.decode()
    assert _search_form(case) in before and "Close this case" in before
    confirm = page.post(f"/cases/{case.pk}/close/").content.decode()  # asks first, changes nothing
    assert f"Close case {case.case_number}?" in confirm and "Closing is final" in confirm
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED and not _closed_events(case)
    response = page.post(f"/cases/{case.pk}/close/", {"confirm": "yes"}, follow=True)
    text = response.content.decode()
    assert response.status_code == 200
    assert f"Case {case.case_number} is closed." in text
    assert '<span class="status status-closed">Closed</span>' in text
    assert _search_form(case) not in text and "Close this case" not in text
    assert f"Case {case.case_number} is closed: no one can search in it any more" in text
    assert "ended when the case closed" in text and "valid until" not in text
    assert f"by {cast.officer.username} on" in text.split("<dt>Closed</dt>", 1)[1][:200]
    case.refresh_from_db()
    assert case.status == CaseStatus.CLOSED and len(_closed_events(case)) == 1
    assert case.closed_by == cast.officer
    again = page.post(f"/cases/{case.pk}/close/", {"confirm": "yes"}, follow=True).content.decode()
    assert f"Case {case.case_number} is already closed." in again
    assert len(_closed_events(case)) == 1


def test_a_closed_case_takes_no_search_through_the_page_or_the_api(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    case_close(case=case, actor=cast.officer)

    def probe() -> SimpleUploadedFile:
        return SimpleUploadedFile("p.jpg", photos.photo("Colin_Powell", 2), content_type="image/jpeg")

    refused = api_client(cast.officer).post("/api/v1/searches/", {"case": case.pk, "probe": probe()},
                                            format="multipart")
    assert refused.status_code == 409 and refused.json()["code"] == "case_closed"
    page = web_client(cast.officer).post(f"/cases/{case.pk}/searches/", {"probe": probe()},
                                         follow=True)
    assert refused.json()["detail"] in page.content.decode()
    assert not Search.objects.filter(case=case).exists()

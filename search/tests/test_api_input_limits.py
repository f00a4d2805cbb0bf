"""Input the API must answer with a 4xx and a message, never a 500: page sizes, offsets and
assignees."""

from __future__ import annotations

import pytest

from search.models import Search
from tests.factories import assigned_case
from tests.fixtures import api_client, web_client


def test_a_list_page_holds_at_most_a_hundred_rows(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    Search.objects.bulk_create(Search(agency=cast.agency, case=case, requested_by=cast.officer,
                                      probe="probes/x.jpg") for _ in range(101))
    body = api_client(cast.officer).get("/api/v1/searches/?limit=1000000").json()
    assert body["count"] == 101 and len(body["results"]) == 100
    assert "limit=100" in body["next"] and "offset=100" in body["next"]
    assert len(api_client(cast.officer).get(body["next"]).json()["results"]) == 1


@pytest.mark.parametrize("query", ["offset=99999999999999999999", "offset=-5", "limit=abc",
                                   "limit=0", "limit=-1"])
def test_odd_page_parameters_answer_a_page(cast, query: str) -> None:
    assigned_case(cast.agency, cast.officer)
    response = api_client(cast.officer).get(f"/api/v1/cases/?{query}")
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == (0 if "999" in query else 1)


@pytest.mark.parametrize("user", ["²", "٣", "99999999999999999999", "no-such-user"])
def test_assigning_someone_who_is_not_there_answers_404(cast, user: str) -> None:
    case = assigned_case(cast.agency, cast.officer)
    response = api_client(cast.supervisor).post(f"/api/v1/cases/{case.pk}/assign/",
                                                {"user": user}, format="json")
    assert response.status_code == 404, response.content
    assert response.json() == {"code": "not_found", "detail": "No such user in your agency."}


def test_an_over_long_assignee_is_refused_with_the_fields_message(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    response = api_client(cast.supervisor).post(f"/api/v1/cases/{case.pk}/assign/",
                                                {"user": "u" * 151}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["user"] == ["Ensure this field has no more than 150 characters."]


def test_the_assign_form_with_an_odd_user_says_what_to_do(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    for user in ("²", "abc", "99999999999999999999"):
        response = web_client(cast.supervisor).post(f"/cases/{case.pk}/assign/", {"user": user},
                                                    follow=True)
        assert response.status_code == 200
        assert "Choose an officer of your agency." in response.content.decode()


def test_an_id_of_another_agencys_officer_answers_like_a_missing_one(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    response = api_client(cast.supervisor).post(f"/api/v1/cases/{case.pk}/assign/",
                                                {"user": str(cast.other_officer.pk)}, format="json")
    assert response.status_code == 404
    assert response.json()["detail"] == "No such user in your agency."

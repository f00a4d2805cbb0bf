""""A member of my agency by id" is one selector (accounts.selectors.agency_member_get) for the
case-assign API and page and the People page: a missing account and another agency's answer alike."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from agencies.tenancy.models import Role
from tests.factories import assigned_case, member
from tests.fixtures import api_client, web_client


def test_the_assign_api_finds_an_officer_by_id_or_username_but_not_a_disabled_one(cast) -> None:
    case = assigned_case(cast.agency, cast.supervisor)
    frank = member(cast.agency, Role.OFFICER, "frank")
    client = api_client(cast.supervisor)
    assert client.post(f"/api/v1/cases/{case.pk}/assign/", {"user": str(frank.pk)}).status_code == 200
    assert frank.has_perm("search.search_in_case", case)
    get_user_model().objects.filter(pk=frank.pk).update(is_active=False)
    response = client.post(f"/api/v1/cases/{case.pk}/assign/", {"user": "frank"})
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "No such user in your agency."}


def test_the_assign_page_refuses_another_agencys_officer_like_a_missing_one(cast) -> None:
    case = assigned_case(cast.agency, cast.supervisor)
    client = web_client(cast.supervisor)
    for key in (cast.other_officer.pk, 987654321):
        response = client.post(f"/cases/{case.pk}/assign/", {"user": key}, follow=True)
        assert response.status_code == 200
        assert "Choose an officer of your agency." in response.content.decode()
    assert not cast.other_officer.has_perm("search.search_in_case", case)


def test_the_people_page_reaches_a_disabled_member_but_no_one_elses(cast) -> None:
    get_user_model().objects.filter(pk=cast.officer.pk).update(is_active=False)
    client = web_client(cast.admin)
    response = client.post(f"/people/{cast.officer.pk}/update/", {"action": "activate"})
    assert response.status_code == 302
    cast.officer.refresh_from_db()
    assert cast.officer.is_active
    for pk in (cast.other_officer.pk, 987654321):
        assert client.post(f"/people/{pk}/update/", {"action": "deactivate"}).status_code == 404
    cast.other_officer.refresh_from_db()
    assert cast.other_officer.is_active

"""Supervisors see the cases they supervise; one who has no part in a case cannot open its results by
assigning themselves."""

from __future__ import annotations

from agencies.tenancy.models import Role
from tests.factories import member
from tests.fixtures import api_client


def test_a_supervisor_who_never_saw_the_case_cannot_open_it_by_assigning_themselves(
        cast, search) -> None:
    sam = member(cast.agency, Role.SUPERVISOR, "sam")
    assert api_client(sam).get(f"/api/v1/searches/{search.pk}/").status_code == 403
    api_client(sam).post(f"/api/v1/cases/{search.case_id}/assign/", {"user": "sam"}, format="json")
    assert api_client(sam).get(f"/api/v1/searches/{search.pk}/").status_code == 403

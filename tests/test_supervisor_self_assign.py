"""Supervisors see the cases they supervise; one who has no part in a case cannot open its results by
assigning themselves."""

from __future__ import annotations

import pytest

from agencies.tenancy.models import Role
from search.models import Gallery, Search
from search.services import searching
from tests import photos
from tests.factories import GalleryFactory, assigned_case, member
from tests.fixtures import api_client, enroll_people


@pytest.fixture
def search(cast) -> Search:
    gallery: Gallery = GalleryFactory(agency=cast.agency, name="North bookings")
    enroll_people(gallery, count=2)
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0101",
                         decided_by=cast.supervisor)
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Ariel_Sharon", 2))
    searching.search_run(search_id=search.pk)
    return search


def test_a_supervisor_who_never_saw_the_case_cannot_open_it_by_assigning_themselves(
        cast, search) -> None:
    sam = member(cast.agency, Role.SUPERVISOR, "sam")
    assert api_client(sam).get(f"/api/v1/searches/{search.pk}/").status_code == 403
    api_client(sam).post(f"/api/v1/cases/{search.case_id}/assign/", {"user": "sam"}, format="json")
    assert api_client(sam).get(f"/api/v1/searches/{search.pk}/").status_code == 403

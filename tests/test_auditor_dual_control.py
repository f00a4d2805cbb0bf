"""The auditor role reads every case's results and images, so one admin alone cannot grant it: not to
a puppet officer, not to themselves."""

from __future__ import annotations

import pytest

from agencies.tenancy.models import Membership, Role
from search.models import Gallery, Search
from search.services import searching
from tests import photos
from tests.factories import GalleryFactory, assigned_case, member
from tests.fixtures import api_client, enroll_people, web_client


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


def test_one_admin_cannot_turn_an_officer_into_an_auditor_who_reads_every_case(cast, search) -> None:
    olga = member(cast.agency, Role.OFFICER, "olga")  # on no case; could be the admin's puppet
    assert api_client(olga).get(f"/api/v1/searches/{search.pk}/").status_code == 403
    web_client(cast.admin).post(f"/people/{olga.pk}/update/", {"action": "role", "role": "auditor"})
    assert Membership.objects.get(user=olga).role == Role.OFFICER, "auditor granted by one admin"
    assert api_client(olga).get(f"/api/v1/searches/{search.pk}/").status_code == 403
    assert api_client(olga).get(f"/images/searches/{search.pk}/probe/").status_code == 403


def test_an_admin_cannot_make_themselves_an_auditor_and_read_every_case(cast, search) -> None:
    assert api_client(cast.admin).get(f"/api/v1/searches/{search.pk}/").status_code == 403
    web_client(cast.admin).post(f"/people/{cast.admin.pk}/update/",
                                {"action": "role", "role": "auditor"})
    assert Membership.objects.get(user=cast.admin).role == Role.AGENCY_ADMIN
    assert api_client(cast.admin).get(
        f"/images/searches/{search.pk}/candidates/1/").status_code == 403

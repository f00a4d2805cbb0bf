"""The auditor role reads every case's results and images, so one admin alone cannot grant it: not to
a puppet officer, not to themselves."""

from __future__ import annotations

from agencies.tenancy.models import Membership, Role
from tests.factories import member
from tests.fixtures import api_client, web_client


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

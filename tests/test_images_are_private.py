"""Stored photos are served only to signed-in members of the owning agency."""

from __future__ import annotations

from django.test import Client

from search.models import Face, Search
from search.services import searching
from tests import photos
from tests.factories import assigned_case
from tests.fixtures import api_client, web_client


def test_the_agency_admin_gets_the_face_image(cast, galleries) -> None:
    face = Face.objects.filter(agency=cast.agency).first()
    assert api_client(cast.officer).get(f"/images/faces/{face.pk}/").status_code == 403
    response = api_client(cast.admin).get(f"/images/faces/{face.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_another_agency_gets_404_for_a_face_image(cast, galleries) -> None:
    face = Face.objects.filter(agency=cast.agency).first()
    assert api_client(cast.other_officer).get(f"/images/faces/{face.pk}/").status_code == 404


def test_anonymous_gets_no_image(cast, galleries) -> None:
    face = Face.objects.filter(agency=cast.agency).first()
    response = Client().get(f"/images/faces/{face.pk}/")
    assert response.status_code in (401, 403)
    assert not response.get("Content-Type", "").startswith("image/")


def test_probe_photos_are_private_too(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Colin_Powell", 2))
    url = f"/images/searches/{search.pk}/probe/"
    assert api_client(cast.officer).get(url).status_code == 200
    assert api_client(cast.other_officer).get(url).status_code == 404
    assert Client().get(url).status_code in (401, 403)


def test_a_browser_session_of_another_agency_sees_nothing(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    search: Search = searching.search_create(case=case, user=cast.officer,
                                             probe=photos.photo("Colin_Powell", 2))
    browser = web_client(cast.other_officer)
    for url in (f"/cases/{case.pk}/", f"/searches/{search.pk}/", f"/searches/{search.pk}/panel/",
                f"/images/searches/{search.pk}/probe/"):
        assert browser.get(url).status_code == 404, url

"""The galleries page: each gallery of the agency with its live subjects and faces counted; the
agency admin alone gets the links to browse faces and the form to create a gallery."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from search.models import Face, Gallery, Subject
from tests.factories import GalleryFactory
from tests.fixtures import api_client, enroll_people, web_client


def _rows(page: str) -> dict[str, tuple[str, str]]:
    """Gallery name -> (subjects, faces), as the page's table shows them."""
    rows = {}
    for row in re.findall(r"<tr><td>.*?</tr>", page, re.S):
        cells = re.findall(r"<td>(?:<a [^>]*>)?([^<]*)(?:</a>)?</td>", row)
        if len(cells) == 5:
            rows[cells[0]] = (cells[3], cells[4])
    return rows


@pytest.fixture
def counted(cast) -> Gallery:
    gallery = GalleryFactory(agency=cast.agency, name="Counted")
    enroll_people(gallery, count=3)  # three people, two photos each
    return gallery


def test_each_gallery_shows_its_own_subjects_and_faces(cast, counted) -> None:
    GalleryFactory(agency=cast.agency, name="Empty")
    theirs = GalleryFactory(agency=cast.other_agency, name="Theirs")
    enroll_people(theirs, count=2)  # the same people, in another agency
    page = web_client(cast.officer).get("/galleries/")
    assert page.status_code == 200
    assert _rows(page.content.decode()) == {"Counted": ("3", "6"), "Empty": ("0", "0")}


def test_faces_removed_by_an_opt_out_are_not_counted_nor_their_subject(cast, counted) -> None:
    """A removed face is hidden everywhere until restored or purged: the counts too."""
    gone = Subject.objects.filter(gallery=counted).order_by("pk")[0]
    Face.all_objects.filter(subject=gone).update(removed_at=timezone.now())
    one_face = Subject.objects.filter(gallery=counted).order_by("pk")[1]
    Face.all_objects.filter(pk=Face.objects.filter(subject=one_face)[0].pk).update(
        removed_at=timezone.now())
    page = web_client(cast.admin).get("/galleries/").content.decode()
    assert _rows(page) == {"Counted": ("2", "3")}
    detail = web_client(cast.admin).get(f"/galleries/{counted.pk}/").content.decode()
    assert gone.reference not in detail and one_face.reference in detail


def test_the_admin_gets_links_and_the_form_the_others_only_the_list(cast, counted) -> None:
    admin = web_client(cast.admin).get("/galleries/").content.decode()
    assert f'href="/galleries/{counted.pk}/"' in admin
    assert "<h2>New gallery</h2>" in admin
    for user in (cast.officer, cast.supervisor, cast.auditor):
        page = web_client(user).get("/galleries/")
        text = page.content.decode()
        assert page.status_code == 200 and _rows(text) == {"Counted": ("3", "6")}, user
        assert f"/galleries/{counted.pk}/" not in text and "New gallery" not in text, user


def test_another_agency_and_the_operator_see_none_of_its_galleries(cast, counted) -> None:
    other = web_client(cast.other_admin).get("/galleries/")
    assert other.status_code == 200 and "Counted" not in other.content.decode()
    assert "No galleries yet." in other.content.decode()
    assert web_client(cast.operator).get("/galleries/").status_code == 403


def test_only_the_admin_creates_a_gallery_from_the_page(cast) -> None:
    fields = {"name": "Warrants", "source": "Court records", "legal_basis": "warrant"}
    for user in (cast.officer, cast.supervisor, cast.auditor):
        web_client(user).post("/galleries/", fields)
    assert not Gallery.objects.filter(name="Warrants").exists()
    response = web_client(cast.admin).post("/galleries/", fields, follow=True)
    assert "Gallery Warrants created." in response.content.decode()
    gallery = Gallery.objects.get(name="Warrants")
    assert gallery.agency == cast.agency
    assert "Warrants" in web_client(cast.officer).get("/galleries/").content.decode()


def test_the_api_counts_a_gallerys_faces_as_the_page_does(cast, counted) -> None:
    """One selector counts for both: live faces only, each once."""
    Face.all_objects.filter(pk=Face.objects.filter(gallery=counted)[0].pk).update(
        removed_at=timezone.now())
    page = web_client(cast.admin).get("/galleries/").content.decode()
    client = api_client(cast.admin)
    listed = {g["name"]: g["face_count"] for g in client.get("/api/v1/galleries/").json()["results"]}
    one = client.get(f"/api/v1/galleries/{counted.pk}/").json()["face_count"]
    assert _rows(page)["Counted"][1] == str(listed["Counted"]) == str(one) == "5"

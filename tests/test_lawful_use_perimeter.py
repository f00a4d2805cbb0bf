"""Who sees enrolled faces and search results (issue #14, items 1 and 2), through the real
pages, API and image addresses, with a real search on real photos.

The rule (search.selectors.cases_open_to): an officer sees the cases they are assigned to, a
supervisor the cases they approved or are assigned to, an auditor every case (each opening
audited), the agency admin none; enrolled faces outside a search are the agency admin's alone.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from agencies.audit.models import AuditAction, AuditEvent, AuditOutcome
from agencies.tenancy.models import Role
from search.models import Face, Gallery, Search
from search.services import searching
from tests import photos
from tests.factories import GalleryFactory, assigned_case, member
from tests.fixtures import api_client, enroll_people, web_client


@pytest.fixture
def gallery(cast) -> Gallery:
    gallery = GalleryFactory(agency=cast.agency, name="North bookings")
    enroll_people(gallery, count=2)  # Ariel_Sharon and Colin_Powell, two photos each
    return gallery


@pytest.fixture
def search(cast, gallery) -> Search:
    """A finished search by the officer, in a case the supervisor approved."""
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0101",
                         decided_by=cast.supervisor)
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Ariel_Sharon", 2))
    searching.search_run(search_id=search.pk)
    assert search.candidates.filter(rank=1, face__isnull=False).exists()
    return search


@pytest.fixture
def people(cast) -> dict[str, Any]:
    """Every role, with the answer each one gets for a search of the officer's case."""
    return {
        "officer assigned": (cast.officer, 200),
        "officer not assigned": (member(cast.agency, Role.OFFICER, "olga"), 403),
        "supervisor who approved": (cast.supervisor, 200),
        "another supervisor": (member(cast.agency, Role.SUPERVISOR, "sam"), 403),
        "agency admin": (cast.admin, 403),
        "auditor": (cast.auditor, 200),
        "another agency's officer": (cast.other_officer, 404),
    }


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _events(action: str, **match: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **match).order_by("seq"))


def test_each_role_gets_what_the_rule_allows_at_every_address(cast, search, people) -> None:
    api_urls = [f"/api/v1/searches/{search.pk}/", f"/api/v1/searches/{search.pk}/disclosure.pdf",
                f"/images/searches/{search.pk}/candidates/1/", f"/images/searches/{search.pk}/face/",
                f"/images/searches/{search.pk}/probe/"]
    page_urls = [f"/searches/{search.pk}/", f"/searches/{search.pk}/panel/",
                 f"/searches/{search.pk}/disclosure.pdf", f"/images/searches/{search.pk}/candidates/1/"]
    for who, (user, expected) in people.items():
        for url in api_urls:
            assert api_client(user).get(url).status_code == expected, (who, url)
        for url in page_urls:
            assert web_client(user).get(url).status_code == expected, (who, url)


def test_a_refusal_says_what_to_do_and_is_audited(cast, search, people) -> None:
    olga = people["officer not assigned"][0]
    answer = api_client(olga).get(f"/api/v1/searches/{search.pk}/")
    assert answer.json()["code"] == "not_assigned"
    assert "Ask a supervisor to assign you" in answer.json()["detail"]
    page = web_client(olga).get(f"/searches/{search.pk}/")
    assert b"You are not assigned to case 2026-0101" in page.content
    assert b"<h1>" in page.content and b"Ariel" not in page.content
    admin = api_client(cast.admin).get(f"/api/v1/searches/{search.pk}/").json()
    assert "the agency admin manages galleries" in admin["detail"]
    image = api_client(olga).get(f"/images/searches/{search.pk}/candidates/1/")
    assert not image.get("Content-Type", "").startswith("image/")
    refused = _events(AuditAction.RESULTS_VIEWED, outcome=AuditOutcome.REFUSED)
    assert [(e.actor, e.details["search_id"]) for e in refused] == [
        (olga, search.pk), (olga, search.pk), (cast.admin, search.pk)]
    [image_refused] = _events(AuditAction.IMAGE_VIEWED, outcome=AuditOutcome.REFUSED)
    assert image_refused.actor == olga and image_refused.details["search_id"] == search.pk


def test_every_image_served_is_audited_with_who_which_face_and_which_search(cast, search) -> None:
    first = search.candidates.get(rank=1)
    client = api_client(cast.supervisor)
    assert client.get(f"/images/searches/{search.pk}/candidates/1/").status_code == 200
    assert client.get(f"/images/searches/{search.pk}/face/").status_code == 200
    candidate, probe = _events(AuditAction.IMAGE_VIEWED)
    assert candidate.actor == cast.supervisor and candidate.agency == cast.agency
    assert candidate.details["search_id"] == search.pk and candidate.details["rank"] == 1
    assert candidate.details["face_id"] == first.face_id
    assert candidate.details["case_number"] == "2026-0101"
    assert probe.details["image"] == "probe_face" and probe.details["search_id"] == search.pk


def test_the_api_links_candidates_to_the_search_scoped_address(cast, search) -> None:
    body = api_client(cast.officer).get(f"/api/v1/searches/{search.pk}/").json()
    url = body["candidates"][0]["face"]["image_url"]
    assert url == f"/images/searches/{search.pk}/candidates/1/"
    response = api_client(cast.officer).get(url)
    assert response.status_code == 200 and _body(response)[:2] == b"\xff\xd8"
    page = web_client(cast.officer).get(f"/searches/{search.pk}/")
    assert url.encode() in page.content and b"/images/faces/" not in page.content


def test_opening_results_is_audited_for_every_role_that_may(cast, search) -> None:
    for user in (cast.officer, cast.supervisor, cast.auditor):
        api_client(user).get(f"/api/v1/searches/{search.pk}/")
        web_client(user).get(f"/searches/{search.pk}/")
    viewed = _events(AuditAction.RESULTS_VIEWED, outcome=AuditOutcome.SUCCESS)
    assert [e.actor for e in viewed] == [cast.officer] * 2 + [cast.supervisor] * 2 + [cast.auditor] * 2
    assert {e.object_id for e in viewed} == {str(search.pk)}
    api_client(cast.auditor).get(f"/api/v1/searches/{search.pk}/disclosure.pdf")
    [export] = _events(AuditAction.EXPORT)
    assert export.actor == cast.auditor and export.details["search_id"] == search.pk


def test_the_search_list_shows_only_the_cases_a_user_may_see(cast, search, people) -> None:
    for who, (user, expected) in people.items():
        listed = api_client(user).get("/api/v1/searches/").json()["results"]
        assert [s["id"] for s in listed] == ([search.pk] if expected == 200 else []), who
        assert all("candidates" not in s for s in listed), who  # a list never shows results
    assert not _events(AuditAction.RESULTS_VIEWED)


def test_case_pages_show_searches_only_to_those_who_may_open_them(cast, search, people) -> None:
    link = f'href="/searches/{search.pk}/"'.encode()
    for who, (user, expected) in people.items():
        if expected == 404:
            assert web_client(user).get(f"/cases/{search.case_id}/").status_code == 404
            continue
        page = web_client(user).get(f"/cases/{search.case_id}/")
        assert page.status_code == 200, who
        assert (link in page.content) == (expected == 200), who
        assert (link in web_client(user).get("/").content) == (user == cast.officer), who


def test_a_supervisor_is_put_on_a_case_by_another_before_seeing_it(cast, search, people) -> None:
    sam = people["another supervisor"][0]
    assert b"ask the supervisor who approved it" in web_client(sam).get(
        f"/cases/{search.case_id}/").content
    review = f"/api/v1/searches/{search.pk}/candidates/1/review/"
    assert api_client(sam).post(review, {"decision": "possible_lead"}).status_code == 403
    alone = api_client(sam).post(f"/api/v1/cases/{search.case_id}/assign/", {"user": "sam"})
    assert (alone.status_code, alone.json()["code"]) == (403, "self_assignment")
    assert api_client(sam).get(f"/api/v1/searches/{search.pk}/").status_code == 403
    assigned = api_client(cast.supervisor).post(f"/api/v1/cases/{search.case_id}/assign/",
                                                {"user": "sam"})  # the approver puts sam on it
    assert assigned.status_code == 200
    assert api_client(sam).get(f"/api/v1/searches/{search.pk}/").status_code == 200
    assert api_client(sam).post(review, {"decision": "possible_lead"}).status_code == 200
    [assignment] = _events(AuditAction.OFFICER_ASSIGNED)
    assert assignment.actor == cast.supervisor and assignment.details["assigned"] == "sam"


def test_enrolled_faces_are_the_agency_admins_alone(cast, gallery, people) -> None:
    face = Face.objects.filter(gallery=gallery).first()
    subject = face.subject
    for who, (user, expected) in people.items():
        answer = 200 if user == cast.admin else 404 if expected == 404 else 403
        assert web_client(user).get(f"/galleries/{gallery.pk}/").status_code == answer, who
        assert api_client(user).get(f"/images/faces/{face.pk}/").status_code == answer, who
        assert api_client(user).get(f"/api/v1/subjects/{subject.pk}/").status_code == answer, who
    page = web_client(cast.officer).get(f"/galleries/{gallery.pk}/")
    assert b"Only the agency admin browses the faces of a gallery" in page.content
    assert f"/images/faces/{face.pk}/".encode() not in page.content
    served = _events(AuditAction.IMAGE_VIEWED, outcome=AuditOutcome.SUCCESS)
    assert [(e.actor, e.details["face_id"], e.details["gallery_id"]) for e in served] == [
        (cast.admin, face.pk, gallery.pk)]
    refused = _events(AuditAction.IMAGE_VIEWED, outcome=AuditOutcome.REFUSED)
    assert {e.details["code"] for e in refused} == {"gallery_admin_only"} and len(refused) == 5


def test_the_gallery_page_links_enrolled_faces_for_the_admin_only(cast, gallery) -> None:
    assert f"/galleries/{gallery.pk}/".encode() in web_client(cast.admin).get("/galleries/").content
    page = web_client(cast.officer).get("/galleries/")
    assert page.status_code == 200 and f"/galleries/{gallery.pk}/".encode() not in page.content


def test_the_galleries_page_counts_subjects_and_faces(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency, name="Counted")
    enroll_people(gallery, count=3)  # three people, two photos each
    GalleryFactory(agency=cast.agency, name="Empty")
    page = web_client(cast.officer).get("/galleries/").content.decode()
    assert _row_counts(page, "Counted") == ("3", "6")  # not 3 x 6 = 18 faces
    assert _row_counts(page, "Empty") == ("0", "0")


def _row_counts(page: str, name: str) -> tuple[str, str]:
    row = re.search(rf"<tr><td>(?:<a [^>]*>)?{name}(?:</a>)?</td>.*?</tr>", page, re.S)
    assert row, name
    *_, subjects, faces = re.findall(r"<td>([^<]*)</td>", row.group(0))
    return subjects, faces

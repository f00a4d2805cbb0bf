"""The candidate compare page (issue #17): probe and candidate side by side, provenance, the
subject's other faces seen only through the search, the review history, and a decision taken in
two steps; through real HTTP, on a search the real worker ran."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone

from agencies.audit.models import AuditAction, AuditEvent, AuditOutcome
from agencies.tenancy.models import Role
from search.models import Candidate, CandidateStatus, Face, Review, Search, SearchStatus
from search.services import searching
from tests import photos
from tests.factories import GalleryFactory, assigned_case, member
from tests.fixtures import api_client, enroll_people, wait_for, web_client

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def searched(cast: Any, celery_worker: Any) -> Search:
    """The officer searches Ariel Sharon's held-out photo through the page; the worker runs it."""
    enroll_people(GalleryFactory(agency=cast.agency, name="North bookings",
                                 source="County booking system"), count=2)
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0101",
                         decided_by=cast.supervisor)
    with open(photos.photo_path("Ariel_Sharon", 2), "rb") as probe:
        answer = web_client(cast.officer).post(f"/cases/{case.pk}/searches/", {"probe": probe})
    assert answer.status_code == 302
    search = Search.objects.get(case=case)
    wait_for(lambda: Search.objects.filter(pk=search.pk, status=SearchStatus.DONE).exists(),
             timeout=120)
    assert search.candidates.get(rank=1).subject.reference == "Ariel_Sharon"
    return search


def _page(search: Search) -> str:
    return f"/searches/{search.pk}/candidates/1/"


def _other_face(search: Search) -> Face:
    """Ariel Sharon's enrolled face that is not candidate 1's."""
    first = search.candidates.get(rank=1)
    return Face.objects.filter(subject=first.subject).exclude(pk=first.face_id).get()


def _face_url(search: Search, face: Face) -> str:
    return f"/images/searches/{search.pk}/candidates/1/faces/{face.pk}/"


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_compare_page_shows_both_faces_provenance_other_faces_and_history(cast, searched) -> None:
    other = _other_face(searched)
    page = web_client(cast.officer).get(_page(searched)).content.decode()
    assert "<h1>Compare candidate 1 with the probe</h1>" in page
    for url in (f"/images/searches/{searched.pk}/face/", f"/images/searches/{searched.pk}/probe/",
                f"/images/searches/{searched.pk}/candidates/1/", _face_url(searched, other)):
        assert url in page
    assert "/images/faces/" not in page  # never the gallery's own address
    for fact in ("North bookings", "County booking system", "Ariel_Sharon", "Similarity 0.",
                 "Legal basis", "Enrolled", "No one has reviewed this candidate yet"):
        assert fact in page, fact
    alts = re.findall(r'alt="([^"]*)"', page)
    assert len(alts) >= 4 and not any("Ariel" in alt or "Sharon" in alt for alt in alts)
    [opened] = AuditEvent.objects.filter(action=AuditAction.RESULTS_VIEWED, actor=cast.officer)
    assert opened.object_id == str(searched.pk)


def test_the_compare_page_follows_the_search_rule_for_every_role(cast, searched) -> None:
    other = _other_face(searched)
    people = {
        "officer assigned": (cast.officer, 200),
        "officer of another case": (member(cast.agency, Role.OFFICER, "olga"), 403),
        "supervisor who approved": (cast.supervisor, 200),
        "another supervisor": (member(cast.agency, Role.SUPERVISOR, "sam"), 403),
        "agency admin": (cast.admin, 403),
        "auditor": (cast.auditor, 200),
        "another agency's officer": (cast.other_officer, 404),
        "another agency's admin": (cast.other_admin, 404),
    }
    for who, (user, expected) in people.items():
        assert web_client(user).get(_page(searched)).status_code == expected, who
        for client in (web_client(user), api_client(user)):
            image = client.get(_face_url(searched, other))
            assert image.status_code == expected, who
            assert image.get("Content-Type", "").startswith("image/") == (expected == 200), who
    refused = AuditEvent.objects.filter(action=AuditAction.IMAGE_VIEWED,
                                        outcome=AuditOutcome.REFUSED)
    assert {e.actor.username for e in refused} == {"olga", "sam", "dana"}


def test_each_other_face_served_is_audited_with_the_search_and_case(cast, searched) -> None:
    other = _other_face(searched)
    response = api_client(cast.supervisor).get(_face_url(searched, other))
    assert response.status_code == 200 and _body(response)[:2] == b"\xff\xd8"
    [event] = AuditEvent.objects.filter(action=AuditAction.IMAGE_VIEWED,
                                        outcome=AuditOutcome.SUCCESS)
    assert event.actor == cast.supervisor
    assert event.details["image"] == "subject_face" and event.details["face_id"] == other.pk
    assert event.details["search_id"] == searched.pk and event.details["rank"] == 1
    assert event.details["case_number"] == "2026-0101"
    assert event.details["subject_id"] == other.subject_id


def test_a_subject_cannot_be_browsed_through_another_search_or_candidate(cast, searched) -> None:
    """Olga, officer of another case, holds a search of her own: Ariel Sharon's faces are not
    reachable through it, whatever face id she puts in its address."""
    olga = member(cast.agency, Role.OFFICER, "olga")
    case = assigned_case(cast.agency, olga, case_number="2026-0202", decided_by=cast.supervisor)
    hers = searching.search_create(case=case, user=olga, probe=photos.photo("Colin_Powell", 2))
    searching.search_run(search_id=hers.pk)
    assert hers.candidates.get(rank=1).subject.reference == "Colin_Powell"
    ariel = Face.objects.filter(subject__reference="Ariel_Sharon")
    for face in ariel:
        for client in (web_client(olga), api_client(olga)):
            response = client.get(f"/images/searches/{hers.pk}/candidates/1/faces/{face.pk}/")
            assert response.status_code == 404
    own_face = searched.candidates.get(rank=1).face_id  # the candidate's own face: its own address
    assert api_client(cast.officer).get(
        f"/images/searches/{searched.pk}/candidates/1/faces/{own_face}/").status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.IMAGE_VIEWED,
                                         outcome=AuditOutcome.SUCCESS).exists()


def test_a_decision_is_chosen_then_confirmed_then_recorded(cast, searched) -> None:
    officer, url = web_client(cast.officer), f"/searches/{searched.pk}/candidates/1/review/"
    unchosen = officer.post(url, {"note": "ears"})
    assert unchosen.status_code == 400
    assert "Choose Possible lead or Not a match." in unchosen.content.decode()

    asked = officer.post(url, {"decision": "possible_lead", "note": "Same scar on the chin"})
    text = asked.content.decode()
    assert asked.status_code == 200 and "Confirm your decision on candidate 1" in text
    assert "another person also says so, one of the two a supervisor" in text
    assert "Same scar on the chin" in text and 'name="confirm" value="yes"' in text
    assert not Review.objects.exists()  # nothing recorded before the confirmation

    done = officer.post(url, {"decision": "possible_lead", "note": "Same scar on the chin",
                              "confirm": "yes"}, follow=True)
    assert done.redirect_chain[-1][0] == _page(searched)
    assert "Your decision on candidate 1 is recorded: possible lead." in done.content.decode()
    [review] = Review.objects.all()
    assert (review.reviewer, review.note) == (cast.officer, "Same scar on the chin")
    history = done.content.decode()
    assert "Same scar on the chin" in history and "You have reviewed this candidate." in history
    again = officer.post(url, {"decision": "not_a_match"}, follow=True)
    assert "You have already reviewed this candidate" in again.content.decode()

    supervisor = web_client(cast.supervisor)
    preview = supervisor.post(url, {"decision": "possible_lead"}).content.decode()
    assert "This candidate becomes a possible lead in case 2026-0101" in preview
    supervisor.post(url, {"decision": "possible_lead", "confirm": "yes"})
    assert Candidate.objects.get(search=searched, rank=1).status == CandidateStatus.POSSIBLE_LEAD
    assert Review.objects.count() == 2


def test_only_reviewers_of_the_case_can_post_a_decision(cast, searched) -> None:
    url = f"/searches/{searched.pk}/candidates/1/review/"
    olga = member(cast.agency, Role.OFFICER, "olga")
    posted = {"decision": "possible_lead", "confirm": "yes"}
    assert web_client(olga).post(url, posted).status_code == 403
    assert web_client(cast.auditor).post(url, posted).status_code == 403
    assert web_client(cast.admin).post(url, posted).status_code == 403
    assert web_client(cast.other_officer).post(url, posted).status_code == 404
    preview = web_client(olga).post(url, {"decision": "possible_lead"})
    assert preview.status_code == 403 and b"Ariel" not in preview.content
    assert not Review.objects.exists()
    auditor_page = web_client(cast.auditor).get(_page(searched)).content.decode()
    assert 'name="decision"' not in auditor_page and "you can read the history" in auditor_page


def test_the_search_page_links_to_the_compare_page_instead_of_decision_buttons(cast, searched) -> None:
    page = web_client(cast.officer).get(f"/searches/{searched.pk}/").content.decode()
    assert f'href="/searches/{searched.pk}/candidates/1/"' in page and "Compare and review" in page
    assert 'name="decision"' not in page


def test_a_withdrawn_candidate_shows_no_face_no_other_faces_and_no_decision(cast, searched) -> None:
    """An opt-out soft-removes candidate 1's face: the page keeps the record and shows nothing of
    the subject's faces, and nobody can review it."""
    other = _other_face(searched)
    Face.all_objects.filter(pk=searched.candidates.get(rank=1).face_id).update(
        removed_at=timezone.now())
    page = web_client(cast.officer).get(_page(searched)).content.decode()
    assert "Removed" in page and "This face is no longer shown" in page
    assert f"/images/searches/{searched.pk}/candidates/1/" not in page
    assert "/faces/" not in page and "Ariel_Sharon" not in page and 'name="decision"' not in page
    assert api_client(cast.officer).get(_face_url(searched, other)).status_code == 404
    refused = web_client(cast.officer).post(f"/searches/{searched.pk}/candidates/1/review/",
                                            {"decision": "possible_lead"}, follow=True)
    assert "This candidate can no longer be reviewed." in refused.content.decode()
    assert not Review.objects.exists()

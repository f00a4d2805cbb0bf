"""The supervisor's queue: leads someone else marked that wait for their confirmation, and cases
waiting for their approval, on a page of their own and counted in the navigation."""

from __future__ import annotations

from search.models import CaseStatus
from search.services.reviews import candidate_review
from tests.factories import assigned_case
from tests.fixtures import search, web_client  # noqa: F401  (fixture)


def test_a_lead_marked_by_the_officer_waits_in_the_supervisors_queue(cast, search) -> None:  # noqa: F811
    first = search.candidates.get(rank=1)
    candidate_review(candidate=first, reviewer=cast.officer, decision="possible_lead")
    page = web_client(cast.supervisor).get("/reviews/").content.decode()
    assert f"Search {search.pk}, candidate 1" in page and f"/searches/{search.pk}/candidates/1/" in page
    assert 'class="usa-tag queue-count">1<' in web_client(cast.supervisor).get("/").content.decode()
    candidate_review(candidate=first, reviewer=cast.supervisor, decision="possible_lead")
    after = web_client(cast.supervisor).get("/reviews/").content.decode()
    assert f"Search {search.pk}, candidate 1" not in after and "No lead waits" in after


def test_cases_to_approve_exclude_the_supervisors_own(cast) -> None:
    theirs = assigned_case(cast.agency, cast.officer, status=CaseStatus.PENDING,
                           case_number="2026-P1")
    own = assigned_case(cast.agency, cast.supervisor, status=CaseStatus.PENDING,
                        case_number="2026-P2")
    page = web_client(cast.supervisor).get("/reviews/").content.decode()
    assert theirs.case_number in page and own.case_number not in page


def test_the_queue_is_the_supervisors_alone_and_stays_in_the_agency(cast, search) -> None:  # noqa: F811
    candidate_review(candidate=search.candidates.get(rank=1), reviewer=cast.officer,
                     decision="possible_lead")
    assert web_client(cast.officer).get("/reviews/").status_code == 403
    assert web_client(cast.admin).get("/reviews/").status_code == 403
    assert "queue-count" not in web_client(cast.officer).get("/").content.decode()
    other = web_client(cast.other_officer).get("/reviews/")
    assert other.status_code == 403 and f"Search {search.pk}" not in other.content.decode()


def test_before_the_second_factor_the_navigation_shows_no_link_and_no_count(cast, search) -> None:  # noqa: F811
    from django.test import Client

    from tests.factories import PASSWORD

    candidate_review(candidate=search.candidates.get(rank=1), reviewer=cast.officer,
                     decision="possible_lead")
    client = Client()
    client.post("/accounts/login/", {"username": cast.supervisor.username, "password": PASSWORD})
    page = client.get("/accounts/mfa/verify/").content.decode()
    assert "Enter your code" in page or "code" in page.lower()
    assert "queue-count" not in page and 'href="/reviews/"' not in page and 'href="/cases/"' not in page
    assert "Sign out" in page and cast.agency.name not in page  # not even the agency's name

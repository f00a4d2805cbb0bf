"""Two-person review: a candidate is a possible lead only when two different people say so."""

from __future__ import annotations

from typing import Any

import pytest

from agencies.audit.models import AuditAction, AuditEvent
from agencies.tenancy.models import Role
from portal.errors import ServiceError
from search.models import Candidate, CandidateStatus, Face, Search, SearchStatus
from search.services.cases import case_assign
from search.services.reviews import candidate_review
from tests.factories import assigned_case, member
from tests.fixtures import api_client


@pytest.fixture
def candidate(cast, galleries) -> Candidate:
    """A finished search by the officer, in a case the supervisor approved, with one real enrolled
    face as its first candidate."""
    case = assigned_case(cast.agency, cast.officer, decided_by=cast.supervisor)
    search = Search.objects.create(agency=cast.agency, case=case, requested_by=cast.officer,
                                   probe="probes/p.jpg", status=SearchStatus.DONE)
    face = Face.objects.filter(agency=cast.agency).first()
    return Candidate.objects.create(agency=cast.agency, search=search, face=face,
                                    subject=face.subject, gallery=face.gallery, rank=1,
                                    similarity=0.95)


def _review(candidate: Candidate, user: Any, decision: str = "possible_lead") -> str:
    return candidate_review(candidate=candidate, reviewer=user, decision=decision).status


def test_one_reviewer_is_not_enough(cast, candidate) -> None:
    assert _review(candidate, cast.officer) == CandidateStatus.AWAITING_SECOND


def test_the_same_person_marking_twice_does_not_make_a_lead(cast, candidate) -> None:
    _review(candidate, cast.officer)
    with pytest.raises(ServiceError) as refused:
        _review(candidate, cast.officer)
    assert refused.value.code == "already_reviewed" and refused.value.status == 409
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.AWAITING_SECOND
    assert candidate.reviews.count() == 1


def test_the_officer_and_a_supervisor_make_a_lead(cast, candidate) -> None:
    _review(candidate, cast.officer)
    assert _review(candidate, cast.supervisor) == CandidateStatus.POSSIBLE_LEAD


def test_two_supervisors_make_a_lead_without_the_officer(cast, candidate) -> None:
    second = member(cast.agency, Role.SUPERVISOR, "sam")
    _review(candidate, cast.supervisor)
    with pytest.raises(ServiceError) as refused:  # a supervisor with no part in the case
        _review(candidate, second)
    assert refused.value.code == "not_assigned"
    with pytest.raises(ServiceError) as alone:  # not by their own hand
        case_assign(case=candidate.search.case, actor=second, user=second)
    assert alone.value.code == "self_assignment"
    case_assign(case=candidate.search.case, actor=cast.supervisor, user=second)  # on the record
    assert _review(candidate, second) == CandidateStatus.POSSIBLE_LEAD


def test_another_officer_must_be_assigned_to_the_case(cast, candidate) -> None:
    colleague = member(cast.agency, Role.OFFICER, "olga")
    _review(candidate, cast.officer)
    with pytest.raises(ServiceError) as refused:
        _review(candidate, colleague)
    assert refused.value.code == "not_assigned"
    from guardian.shortcuts import assign_perm

    assign_perm("search.search_in_case", colleague, candidate.search.case)
    assert _review(candidate, colleague) == CandidateStatus.AWAITING_SUPERVISOR


def test_two_officers_need_a_supervisor_to_make_a_lead(cast, candidate) -> None:
    # Officer accounts need no second approval, so two of them could be one person's puppets.
    colleague = member(cast.agency, Role.OFFICER, "olga")
    case_assign(case=candidate.search.case, actor=cast.supervisor, user=colleague)
    _review(candidate, cast.officer)
    assert _review(candidate, colleague) == CandidateStatus.AWAITING_SUPERVISOR
    assert _review(candidate, cast.supervisor) == CandidateStatus.POSSIBLE_LEAD


def test_a_disagreement_is_shown_as_disputed(cast, candidate) -> None:
    _review(candidate, cast.officer)
    assert _review(candidate, cast.supervisor, "not_a_match") == CandidateStatus.DISPUTED


def test_auditors_and_admins_do_not_review(cast, candidate) -> None:
    for user in (cast.auditor, cast.admin):
        with pytest.raises(ServiceError) as refused:
            _review(candidate, user)
        assert refused.value.code == "reviewer_role_required"


def test_each_decision_is_audited(cast, candidate) -> None:
    _review(candidate, cast.officer)
    event = AuditEvent.objects.get(action=AuditAction.REVIEW_DECISION)
    assert event.actor == cast.officer and event.agency == cast.agency
    assert event.details["decision"] == "possible_lead"
    assert event.details["case_number"] == candidate.search.case.case_number


def test_the_api_records_a_review_and_shows_it(cast, candidate) -> None:
    url = f"/api/v1/searches/{candidate.search_id}/candidates/1/review/"
    assert api_client(cast.officer).post(url, {"decision": "possible_lead"}).status_code == 200
    response = api_client(cast.supervisor).post(url, {"decision": "possible_lead"})
    assert response.status_code == 200
    assert response.json()["status"] == "possible_lead"
    body = api_client(cast.officer).get(f"/api/v1/searches/{candidate.search_id}/").json()
    shown = body["candidates"][0]
    assert shown["status"] == "possible_lead"
    assert [r["reviewer"] for r in shown["reviews"]] == ["alice", "bob"]
    again = api_client(cast.supervisor).post(url, {"decision": "not_a_match"})
    assert again.status_code == 409 and again.json()["code"] == "already_reviewed"


def test_another_agency_cannot_review(cast, candidate) -> None:
    url = f"/api/v1/searches/{candidate.search_id}/candidates/1/review/"
    assert api_client(cast.other_officer).post(url, {"decision": "possible_lead"}).status_code == 404
    assert not candidate.reviews.exists()

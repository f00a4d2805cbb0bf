"""Two-person review: a candidate becomes a possible lead only when two different people, one of them
a supervisor, say so."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from agencies.tenancy.models import INVESTIGATORS, Membership, Role
from agencies.tenancy.selectors import has_role, membership_of
from portal.errors import ServiceError
from search.models import Candidate, CandidateStatus, Review, ReviewDecision, SearchStatus
from search.selectors import may_see_results
from search.services.cases import case_audit_details


def _ensure_may_review(candidate: Candidate, reviewer: Any) -> None:
    membership = membership_of(reviewer)
    if membership is None or membership.agency_id != candidate.agency_id:
        raise ServiceError("not_found", "Not found.", status=404)
    if membership.role not in INVESTIGATORS:
        raise ServiceError("reviewer_role_required", "Only officers and supervisors review "
                           "candidates.", status=403)
    case = candidate.search.case
    if not may_see_results(user=reviewer, case=case):  # one rule for seeing and for reviewing
        raise ServiceError("not_assigned", f"You are not assigned to case {case.case_number}; "
                           "only its officers and the supervisors who approved it or are "
                           "assigned to it can review its candidates.", status=403)
    if candidate.search.status != SearchStatus.DONE or candidate.withdrawn:
        raise ServiceError("not_reviewable", "This candidate can no longer be reviewed.", status=409)


def review_status(decisions: list[tuple[int, str]], supervisors: set[int]) -> str:
    """The candidate's status from (reviewer id, decision) pairs.

    Two different people saying "possible lead", one of them a supervisor, and nobody saying
    otherwise, make a lead. One person can never make a lead alone, however often they look, and
    two officers cannot either: officer accounts need no second approval (supervisors do), so two
    officer accounts could be one person's.
    """
    leads = {who for who, decision in decisions if decision == ReviewDecision.POSSIBLE_LEAD}
    rejections = {who for who, decision in decisions if decision == ReviewDecision.NOT_A_MATCH}
    if leads and rejections:
        return CandidateStatus.DISPUTED
    if rejections:
        return CandidateStatus.NOT_A_MATCH
    if len(leads) >= 2:
        return (CandidateStatus.POSSIBLE_LEAD if leads & supervisors
                else CandidateStatus.AWAITING_SUPERVISOR)
    return CandidateStatus.AWAITING_SECOND if leads else CandidateStatus.UNREVIEWED


def _supervisors_among(candidate: Candidate) -> set[int]:
    reviewers = candidate.reviews.values("reviewer_id")
    return set(Membership.objects.filter(agency_id=candidate.agency_id, user_id__in=reviewers,
                                         role=Role.SUPERVISOR).values_list("user_id", flat=True))


def _ensure_first_review(candidate: Candidate, reviewer: Any, decision: str) -> None:
    if candidate.is_weak and decision == ReviewDecision.POSSIBLE_LEAD:
        # Below the agency's line: one reviewer's hunch cannot undo the policy; a looser
        # line is the agency admin's decision on the policy page, audited there.
        raise ServiceError("weak_candidate", "This candidate is weak (below your agency's "
                           "line), so it cannot be marked a possible lead; you may mark it "
                           "not a match. Your agency admin sets the line on the policy page.",
                           status=409)
    if Review.objects.filter(candidate=candidate, reviewer=reviewer).exists():
        raise ServiceError("already_reviewed", "You have already reviewed this candidate; a "
                           "second review must come from another person.", status=409)


def review_preview(*, candidate: Candidate, reviewer: Any, decision: str) -> str:
    """The status `candidate` would take if `reviewer` recorded `decision` now, for the
    confirmation step to say what will happen; refuses exactly as `candidate_review` would."""
    if decision not in ReviewDecision.values:
        raise ServiceError("invalid_decision", "The decision must be possible_lead or not_a_match.")
    _ensure_may_review(candidate, reviewer)
    _ensure_first_review(candidate, reviewer, decision)
    decisions = [*candidate.reviews.values_list("reviewer_id", "decision"), (reviewer.pk, decision)]
    supervisors = _supervisors_among(candidate)
    if has_role(reviewer, Role.SUPERVISOR):
        supervisors.add(reviewer.pk)
    return review_status(decisions, supervisors)


def candidate_review(*, candidate: Candidate, reviewer: Any, decision: str, note: str = "") -> Candidate:
    """Record one reviewer's decision (once per person) and recompute the candidate's status."""
    if decision not in ReviewDecision.values:
        raise ServiceError("invalid_decision", "The decision must be possible_lead or not_a_match.")
    with transaction.atomic():
        # One review at a time per candidate; the checks see the rows as they are now.
        locked = (Candidate.objects.select_for_update(of=("self",))
                  .select_related("search__case").get(pk=candidate.pk))
        _ensure_may_review(locked, reviewer)
        _ensure_first_review(locked, reviewer, decision)
        Review.objects.create(agency=locked.agency, candidate=locked, reviewer=reviewer,
                              decision=decision, note=note)
        locked.status = review_status(list(locked.reviews.values_list("reviewer_id", "decision")),
                                      _supervisors_among(locked))
        locked.save(update_fields=["status"])
        audit_record(action=AuditAction.REVIEW_DECISION, agency=locked.agency, actor=reviewer,
                     obj=locked, details=case_audit_details(
                         locked.search.case, search_id=locked.search_id, rank=locked.rank,
                         decision=decision, status=locked.status))
    return locked

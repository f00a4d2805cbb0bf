"""The candidate compare page: probe and candidate side by side, where the face came from, who
reviewed it, and a decision taken deliberately (chosen, then confirmed on a page of its own).

Everything here goes through the rule of search/services/access.py and the two-person rule of
search/services/reviews.py; nothing reads a face or a subject outside the search it belongs to.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from agencies.tenancy.apis import IsAgencyMember, agency_of
from agencies.tenancy.decorators import member_required
from agencies.tenancy.models import INVESTIGATORS
from agencies.tenancy.requests import MemberRequest
from agencies.tenancy.selectors import has_role
from portal.errors import ServiceError
from search import selectors
from search.forms import ReviewForm
from search.models import Candidate, CandidateStatus, ReviewDecision, SearchStatus
from search.serializers import LEAD_NOTICE
from search.services import access, reviews

# What a decision leads to, said before it is recorded (the status it would give the candidate).
OUTCOMES = {
    CandidateStatus.AWAITING_SECOND: "The candidate then waits for a second reviewer: it becomes "
    "a possible lead only if another person also says so, one of the two a supervisor.",
    CandidateStatus.AWAITING_SUPERVISOR: "Two officers will then have said possible lead: a "
    "supervisor must confirm it before it is a lead.",
    CandidateStatus.POSSIBLE_LEAD: "This candidate becomes a possible lead in case {case}: an "
    "investigative lead to check by other means, never an identification on its own.",
    CandidateStatus.NOT_A_MATCH: "The candidate is recorded as not a match in case {case} and "
    "cannot become a lead.",
    CandidateStatus.DISPUTED: "Reviewers will then disagree: the candidate is shown as disputed "
    "and cannot become a lead.",
}


def _refused(request: HttpRequest, refusal: ServiceError) -> HttpResponse:
    return render(request, "search/refused.html", {"refusal": refusal}, status=refusal.status)


def _reviewed_by(user: Any, candidate: Candidate) -> bool:
    return any(r.reviewer_id == user.pk for r in candidate.reviews.all())


def _may_review(user: Any, candidate: Candidate) -> bool:
    """Whether to offer the decision form; the service decides again when it is posted."""
    return (has_role(user, *INVESTIGATORS) and not candidate.withdrawn
            and candidate.search.status == SearchStatus.DONE and not _reviewed_by(user, candidate))


def _compare_page(request: MemberRequest, candidate: Candidate, form: ReviewForm,
                  status: int = 200) -> HttpResponse:
    return render(request, "search/candidate_compare.html", {
        "search": candidate.search, "candidate": candidate, "face": candidate.shown_face,
        "subject_faces": selectors.candidate_subject_faces(candidate=candidate),
        "form": form, "may_review": _may_review(request.user, candidate),
        "reviewed_by_me": _reviewed_by(request.user, candidate),
        "lead_notice": LEAD_NOTICE}, status=status)


@member_required()
def candidate_compare(request: MemberRequest, pk: int, rank: int) -> HttpResponse:
    """One candidate beside the probe; opening it is audited as opening the search's results."""
    try:
        candidate = access.candidate_open(agency=request.agency, user=request.user, pk=pk, rank=rank)
    except ServiceError as refusal:
        return _refused(request, refusal)
    return _compare_page(request, candidate, ReviewForm())


@require_POST
@member_required(*INVESTIGATORS)
def candidate_review(request: MemberRequest, pk: int, rank: int) -> HttpResponse:
    """First post: restate the decision and what follows. Second (confirm=yes): record it."""
    try:
        search = access.search_for_results(agency=request.agency, user=request.user, pk=pk)
    except ServiceError as refusal:
        return _refused(request, refusal)
    candidate = selectors.candidate_get(search=search, rank=rank)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        return _compare_page(request, candidate, form, status=400)
    decision, note = form.cleaned_data["decision"], form.cleaned_data["note"]
    try:
        outcome = reviews.review_preview(candidate=candidate, reviewer=request.user, decision=decision)
        if request.POST.get("confirm") != "yes":
            return render(request, "search/candidate_review_confirm.html", {
                "search": search, "candidate": candidate, "decision": decision, "note": note,
                "decision_label": ReviewDecision(decision).label,
                "outcome": OUTCOMES[CandidateStatus(outcome)].format(case=search.case.case_number)})
        reviewed = reviews.candidate_review(candidate=candidate, reviewer=request.user,
                                            decision=decision, note=note)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Your decision on candidate {rank} is recorded: "
                         f"{ReviewDecision(decision).label.lower()}. The candidate's status is now "
                         f"“{reviewed.get_status_display()}”.")
    return redirect("candidate-compare", pk=search.pk, rank=candidate.rank)


@extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([IsAuthenticated, IsAgencyMember])
def subject_face_image(request: Request, pk: int, rank: int, face: int) -> FileResponse:
    """Another enrolled face of a candidate's subject, reached only through that search."""
    field = access.candidate_subject_face_image(agency=agency_of(request), user=request.user,
                                                pk=pk, rank=rank, face_pk=face)
    response = FileResponse(field.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response

"""Server-rendered pages for officers, supervisors and agency admins. Thin: parse, call, render."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request

from agencies.accounts.selectors import agency_member_get
from agencies.audit.models import AuditAction
from agencies.tenancy.apis import IsAgencyMember, agency_of
from agencies.tenancy.decorators import member_required
from agencies.tenancy.models import INVESTIGATORS, Agency, Role
from agencies.tenancy.permissions import is_platform_operator
from agencies.tenancy.requests import MemberRequest
from agencies.tenancy.selectors import has_role
from portal.csv_export import csv_writer
from portal.errors import NotFound, ServiceError
from portal.http import private_download
from portal.listing import Listing, listing
from search import selectors
from search.filters import CaseFilter, GalleryFilter, SearchFilter, SubjectFilter
from search.forms import CaseForm, EnrollForm, GalleryForm, PolicyForm, ProbeForm, RetentionForm
from search.models import MAX_FACE_INDEX, ReviewDecision
from search.progress import search_page_context
from search.reports import disclosure_response
from search.serializers import LEAD_NOTICE, WEAK_NOTICE
from search.services import access, batches, cases, enrollment, privacy, searching
from search.services.policy import policy_update
from search.services.retention import retention_update
from search.throttles import SearchRateThrottle
from search.uploads import read_upload


def _agency(request: MemberRequest) -> Agency:
    return request.agency


def _admin_posted(request: HttpRequest) -> bool:
    """A form post by the agency admin; other roles only read these pages."""
    if request.method == "POST" and not has_role(request.user, Role.AGENCY_ADMIN):
        raise PermissionDenied("Only the agency admin can change galleries.")
    return request.method == "POST"


@login_required
def home(request: HttpRequest) -> HttpResponseBase:
    if is_platform_operator(request.user):
        return redirect("platform-dashboard")  # the platform operator's own pages
    return _agency_home(request)


@member_required()
def _agency_home(request: MemberRequest) -> HttpResponse:
    agency = _agency(request)
    auditor = has_role(request.user, Role.AUDITOR)  # the auditor's home: the month and refusals
    return render(request, "search/home.html", {
        "my_cases": selectors.cases_searchable_by(user=request.user, agency=agency)[:20],
        "pending_cases": selectors.approvals_waiting(user=request.user, agency=agency)[:20],
        "recent_searches": selectors.searches_open_to(user=request.user, agency=agency).filter(
            requested_by=request.user.pk)[:10],
        "month": selectors.oversight_month(agency=agency) if auditor else None,
        "refusals": selectors.refusals_latest(agency=agency) if auditor else [],
    })


@member_required(Role.SUPERVISOR)
def review_queue(request: MemberRequest) -> HttpResponse:
    """The supervisor's queue: leads waiting for their confirmation, cases for their approval."""
    agency = _agency(request)
    return render(request, "search/review_queue.html", {
        "candidates": selectors.review_queue(user=request.user, agency=agency)[:100],
        "approvals": selectors.approvals_waiting(user=request.user, agency=agency)[:100]})


CASE_COLUMNS = [("Case", "case"), ("Offence", "offence"), ("Status", "status"),
                ("Opened by", "opened_by"), ("Opened", "opened")]
SEARCH_COLUMNS = [("Probe", ""), ("Search", ""), ("Case", "case"), ("Status", "status"),
                  ("Candidates", "candidates", True), ("By", "requested_by"), ("Started", "started")]
GALLERY_COLUMNS = [("Gallery", "name"), ("Legal basis", "legal_basis"), ("Source", ""),
                   ("Subjects", "subjects"), ("Faces", "faces")]


def _list_page(request: HttpRequest, template: str, rows: Listing, **context: Any) -> HttpResponse:
    """A list page; 400 when its filter is wrong, which the page says above the form."""
    return render(request, template, {"listing": rows, **context},
                  status=400 if rows.invalid else 200)


@member_required()
def case_list(request: MemberRequest) -> HttpResponse:
    cases_ = selectors.case_list(agency=_agency(request))
    return _list_page(request, "search/case_list.html",
                      listing(request, CaseFilter, cases_, CASE_COLUMNS))


@member_required()
def search_list(request: MemberRequest) -> HttpResponse:
    """The searches this user may open, with their probe thumbnail and candidate count."""
    searches = selectors.searches_listed(user=request.user, agency=_agency(request))
    return _list_page(request, "search/search_list.html",
                      listing(request, SearchFilter, searches, SEARCH_COLUMNS))


@member_required(*INVESTIGATORS)
def case_new(request: MemberRequest) -> HttpResponse:
    allowed = list(selectors.policy_of(_agency(request)).allowed_offences)
    form = CaseForm(request.POST or None, allowed_offences=allowed)
    if request.method == "POST" and form.is_valid():
        try:
            case = cases.case_open(agency=_agency(request), actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Case {case.case_number} opened. A supervisor must approve "
                             "it before you can search.")
            return redirect("case-detail", pk=case.pk)
    return render(request, "search/case_new.html", {"form": form})


@member_required()
def case_detail(request: MemberRequest, pk: int) -> HttpResponse:
    case = selectors.case_get(agency=_agency(request), pk=pk)
    form = ProbeForm()
    refusal = None
    try:
        cases.ensure_case_searchable(case=case, user=request.user)
    except ServiceError as exc:
        refusal = exc.message
        if exc.code == "not_assigned" and request.user.pk in (case.decided_by_id, case.opened_by_id):
            refusal = "You are not assigned to this case yet: assign yourself below to search in it."
    return render(request, "search/case_detail.html", {
        "case": case, "form": form, "refusal": refusal,
        # Only to those who may open them: who searched whom, and when, is part of the results.
        "sees_searches": selectors.may_see_results(user=request.user, case=case),
        "searches": selectors.searches_open_to(user=request.user, agency=_agency(request))
        .filter(case=case)[:50],
        "can_decide": has_role(request.user, Role.SUPERVISOR),
        "assignable": selectors.agency_members(agency=_agency(request)).filter(
            membership__role__in=INVESTIGATORS),
        "assigned": selectors.users_assigned(case=case),
    })


@require_POST
@member_required(Role.SUPERVISOR)
def case_decide(request: MemberRequest, pk: int) -> HttpResponse:
    case = selectors.case_get(agency=_agency(request), pk=pk)
    reason = request.POST.get("reason", "")
    approve = request.POST.get("decision") == "approve"
    try:
        if approve:
            cases.case_approve(case=case, actor=request.user, reason=reason)
        else:
            cases.case_reject(case=case, actor=request.user, reason=reason)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Case {case.case_number} approved: its assigned officers may "
                         "search in it." if approve else f"Case {case.case_number} rejected: no "
                         "one can search in it.")
    return redirect("case-detail", pk=case.pk)


@require_POST
@member_required(*INVESTIGATORS)
def search_new(request: MemberRequest, pk: int) -> HttpResponseBase:
    case = selectors.case_get(agency=_agency(request), pk=pk)
    throttle = SearchRateThrottle()  # the API's limit and count: the page is no way around it
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]
        messages.error(request, "You have started too many searches in a short time. Wait "
                       f"{math.ceil(throttle.wait() or 1)} seconds, then search again.")
        response = case_detail(request, case.pk)
        response.status_code = 429
        return response
    form = ProbeForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a probe photo to upload.")
        return redirect("case-detail", pk=case.pk)
    try:
        search = searching.search_create(case=case, user=request.user,
                                         probe=read_upload(form.cleaned_data["probe"]))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("case-detail", pk=case.pk)
    messages.success(request, f"Search started in case {case.case_number}.")
    return redirect("search-detail", pk=search.pk)


@require_POST
@member_required(*INVESTIGATORS)
def search_another_face(request: MemberRequest, pk: int) -> HttpResponse:
    """Search another face of a search's probe photo: a new search in the same case."""
    throttle = SearchRateThrottle()
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]
        messages.error(request, "You have started too many searches in a short time. Wait "
                       f"{math.ceil(throttle.wait() or 1)} seconds, then search again.")
        return redirect("search-detail", pk=pk)
    try:
        origin = access.search_for_results(agency=_agency(request), user=request.user, pk=pk)
        face_index = _face_index(request.POST.get("face_index", ""))
        search = searching.search_another_face(search=origin, user=request.user,
                                               face_index=face_index)
    except ServiceError as refusal:
        return _refused(request, refusal)
    messages.success(request, f"Searching face {face_index + 1} of the same photo.")
    return redirect("search-detail", pk=search.pk)


def _face_index(value: str) -> int:
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses (a 500, not a 400).
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_FACE_INDEX:
        raise ServiceError("invalid_face_index", "Choose one of the faces listed under the photo.")
    return int(value)


def _refused(request: HttpRequest, refusal: ServiceError) -> HttpResponse:
    """A refusal a person can act on, as a page with the reason (services audit their own)."""
    return render(request, "search/refused.html", {"refusal": refusal}, status=refusal.status)


def _show_search(request: MemberRequest, pk: int, template: str) -> HttpResponse:
    try:
        search = access.search_results_open(agency=_agency(request), user=request.user, pk=pk)
    except ServiceError as refusal:
        return _refused(request, refusal)
    candidates = selectors.candidates_of(search=search)
    return render(request, template, {
        **search_page_context(search),
        "search": search, "candidates": candidates, "lead_notice": LEAD_NOTICE,
        "has_weak": not candidates and selectors.weak_candidates_of(search=search).exists(),
        "can_review": has_role(request.user, *INVESTIGATORS), "decisions": ReviewDecision.choices,
        "reviewed_by_me": {c.pk for c in candidates
                           if any(r.reviewer_id == request.user.pk for r in c.reviews.all())}})


@member_required()
def search_detail(request: MemberRequest, pk: int) -> HttpResponse:
    return _show_search(request, pk, "search/search_detail.html")


@require_POST
@member_required()
def search_weak_candidates(request: MemberRequest, pk: int) -> HttpResponse:
    """The weak candidates, shown after a deliberate click (a POST, audited by the service)."""
    try:
        search, weak = access.search_weak_candidates_open(agency=_agency(request),
                                                          user=request.user, pk=pk)
    except ServiceError as refusal:
        return _refused(request, refusal)
    return render(request, "search/weak_candidates.html", {
        "search": search, "candidates": weak, "lead_notice": LEAD_NOTICE,
        "weak_notice": WEAK_NOTICE,
        "can_review": has_role(request.user, *INVESTIGATORS),
        "decisions": [(ReviewDecision.NOT_A_MATCH.value, ReviewDecision.NOT_A_MATCH.label)],
        "reviewed_by_me": {c.pk for c in weak
                           if any(r.reviewer_id == request.user.pk for r in c.reviews.all())}})


@never_cache
@member_required()
def search_panel(request: MemberRequest, pk: int) -> HttpResponse:
    """The part of the result page that changes while the search runs; polled by the page."""
    return _show_search(request, pk, "search/_search_panel.html")


@member_required()
def search_disclosure(request: MemberRequest, pk: int) -> HttpResponse:
    try:
        search = access.search_for_results(agency=_agency(request), user=request.user, pk=pk,
                                           action=AuditAction.EXPORT)
    except ServiceError as refusal:
        return _refused(request, refusal)
    return disclosure_response(search, request.user)


@require_POST
@member_required(Role.SUPERVISOR)
def case_assign(request: MemberRequest, pk: int) -> HttpResponse:
    case = selectors.case_get(agency=_agency(request), pk=pk)
    try:
        user = agency_member_get(agency=_agency(request), key=request.POST.get("user", ""))
    except NotFound:  # the form offers the agency's officers: a tampered or stale choice
        messages.error(request, "Choose an officer of your agency.")
        return redirect("case-detail", pk=case.pk)
    try:
        cases.case_assign(case=case, actor=request.user, user=user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{user} may now search in case {case.case_number}.")
    return redirect("case-detail", pk=case.pk)


def _setting_page(request: MemberRequest, form: Any, save: Callable[..., Any], template: str,
                  context: dict[str, Any], saved: str) -> HttpResponse:
    """An agency setting page: members read it, the agency admin saves it (service audits)."""
    if request.method == "POST":
        if not has_role(request.user, Role.AGENCY_ADMIN):
            raise PermissionDenied("Only the agency admin can change this setting.")
        if form.is_valid():
            try:
                save(agency=_agency(request), actor=request.user, **form.cleaned_data)
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, saved)
                return redirect(request.path)
    return render(request, template, {"form": form, **context})


@member_required()
def policy(request: MemberRequest) -> HttpResponse:
    current = selectors.policy_of(_agency(request))
    return _setting_page(request, PolicyForm(request.POST or None, instance=current), policy_update,
                         "search/policy.html", {"policy": current},
                         saved="Search policy saved; it applies to searches started from now on.")


@member_required()
def gallery_list(request: MemberRequest) -> HttpResponse:
    galleries = listing(request, GalleryFilter,
                        selectors.gallery_list_with_counts(agency=_agency(request)),
                        GALLERY_COLUMNS)
    form = GalleryForm(request.POST or None)
    if _admin_posted(request) and form.is_valid():
        try:
            gallery = enrollment.gallery_create(agency=_agency(request), actor=request.user,
                                                **form.cleaned_data)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Gallery {gallery.name} created.")
            return redirect("gallery-detail", pk=gallery.pk)
    return _list_page(request, "search/gallery_list.html", galleries, form=form)


@member_required()
def gallery_detail(request: MemberRequest, pk: int) -> HttpResponse:
    gallery = selectors.gallery_get(agency=_agency(request), pk=pk)
    try:
        access.ensure_may_browse_enrolled_faces(request.user)
    except ServiceError as refusal:
        return _refused(request, refusal)
    form = EnrollForm(request.POST or None, request.FILES or None)
    if _admin_posted(request) and form.is_valid():
        try:
            face = enrollment.face_enroll(
                gallery=gallery, subject_reference=form.cleaned_data["subject_reference"],
                display_name=form.cleaned_data["display_name"], actor=request.user,
                image=read_upload(form.cleaned_data["image"]))
        except ServiceError as exc:
            form.add_error("image", exc.message)
        else:
            messages.success(request, f"Face enrolled for {face.subject}.")
            return redirect("gallery-detail", pk=gallery.pk)
    subjects = listing(request, SubjectFilter,
                       selectors.subject_list(gallery=gallery).prefetch_related("faces"), [])
    return _list_page(request, "search/gallery_detail.html", subjects, gallery=gallery, form=form)


def _image_response(field: Any) -> FileResponse:
    response = FileResponse(field.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


# Images answer browsers (session) and API clients (token) alike, only for the owning agency,
# and only by the rule of search/services/access.py; each one served is audited there.
@extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([IsAuthenticated, IsAgencyMember])
def face_image(request: Request, pk: int) -> FileResponse:
    """An enrolled face in gallery management: the agency admin's only."""
    return _image_response(access.gallery_face_image(agency=agency_of(request),
                                                     user=request.user, pk=pk))


@extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([IsAuthenticated, IsAgencyMember])
def candidate_image(request: Request, pk: int, rank: int) -> FileResponse:
    """The enrolled face shown as a candidate of a search in a case the user may see."""
    return _image_response(access.candidate_image(agency=agency_of(request),
                                                  user=request.user, pk=pk, rank=rank))


@extend_schema(responses={(200, "image/jpeg"): OpenApiTypes.BINARY})
@api_view(["GET"])
@permission_classes([IsAuthenticated, IsAgencyMember])
def probe_image(request: Request, pk: int, part: str) -> FileResponse:
    return _image_response(access.probe_image(agency=agency_of(request),
                                              user=request.user, pk=pk, part=part))


@require_POST
@member_required(*INVESTIGATORS)
def case_close(request: MemberRequest, pk: int) -> HttpResponse:
    case = selectors.case_get(agency=_agency(request), pk=pk)
    if request.POST.get("confirm") != "yes":  # final: ask once more, saying what it does
        return render(request, "search/case_close_confirm.html", {"case": case})
    try:
        cases.case_close(case=case, actor=request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Case {case.case_number} is closed.")
    return redirect("case-detail", pk=case.pk)


@require_POST
@member_required(Role.AGENCY_ADMIN)
def subject_erasure(request: MemberRequest, pk: int) -> HttpResponse:
    subject = get_object_or_404(selectors.subjects_of(agency=_agency(request)), pk=pk)
    gallery_pk = subject.gallery_id
    try:
        order = privacy.subject_erase(subject=subject, actor=request.user,
                                      order_reference=request.POST.get("order_reference", ""),
                                      order_type=request.POST.get("order_type", "deletion"))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Order {order.order_reference}: {order.faces_removed} face(s) "
                         f"deleted, {order.candidates_redacted} past result(s) redacted.")
    return redirect("gallery-detail", pk=gallery_pk)


@member_required()
def retention(request: MemberRequest) -> HttpResponse:
    current = selectors.retention_of(_agency(request))
    return _setting_page(request, RetentionForm(request.POST or None, instance=current),
                         retention_update, "search/retention.html", {"retention": current},
                         saved="Retention schedule saved; the nightly purge follows it.")


@require_POST
@member_required(Role.AGENCY_ADMIN)
def batch_new(request: MemberRequest, pk: int) -> HttpResponse:
    gallery = selectors.gallery_get(agency=_agency(request), pk=pk)
    upload = request.FILES.get("archive")
    if upload is None:
        messages.error(request, "Choose a ZIP archive with the photos and a manifest.csv.")
        return redirect("gallery-detail", pk=gallery.pk)
    try:
        batch = batches.batch_create(gallery=gallery, actor=request.user, data=upload.read())
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("gallery-detail", pk=gallery.pk)
    messages.success(request, f"Archive received for {gallery.name}: its photos are enrolled in "
                     "the background, and this page shows the progress.")
    return redirect("batch-detail", pk=batch.pk)


def _show_batch(request: MemberRequest, pk: int, template: str) -> HttpResponse:
    batch = selectors.batch_get(agency=_agency(request), pk=pk)
    counts = selectors.batch_counts(batch)
    finished = counts["done"] + counts["duplicate"] + counts["failed"]
    return render(request, template, {"batch": batch, "counts": counts, "finished": finished})


@member_required(Role.AGENCY_ADMIN)
def batch_detail(request: MemberRequest, pk: int) -> HttpResponse:
    return _show_batch(request, pk, "search/batch_detail.html")


@never_cache
@member_required(Role.AGENCY_ADMIN)
def batch_panel(request: MemberRequest, pk: int) -> HttpResponse:
    return _show_batch(request, pk, "search/_batch_panel.html")


@member_required(Role.AGENCY_ADMIN)
def batch_errors(request: MemberRequest, pk: int) -> HttpResponse:
    batch = selectors.batch_get(agency=_agency(request), pk=pk)
    response = private_download(HttpResponse(content_type="text/csv"), f"batch-{batch.pk}-errors.csv")
    writer = csv_writer(response)
    writer.writerow(["file", "subject_reference", "code", "reason"])
    for item in batch.items.filter(status="failed"):
        writer.writerow([item.file_name, item.subject_reference, item.error_code, item.error])
    return response

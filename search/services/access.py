"""Opening what a search found, and the images behind it: checked by one rule, always audited.

The rule itself is `selectors.cases_open_to`. Every image served, candidate list opened or
refusal is written to the agency's audit chain with who, which search (or gallery) and which face.
"""

from __future__ import annotations

from typing import Any

from django.db.models.fields.files import FieldFile
from django.http import Http404

from agencies.audit.models import AuditAction, AuditOutcome
from agencies.audit.trail import audit_record
from agencies.tenancy.models import Agency, Role
from agencies.tenancy.selectors import has_role
from portal.errors import ServiceError
from search import selectors
from search.models import Candidate, Face, Search
from search.services.cases import case_audit_details
from search.services.searching import search_results_viewed

PROBE_PARTS = {"probe": "probe", "face": "probe_face"}


def ensure_may_browse_enrolled_faces(user: Any) -> None:
    """Enrolled faces outside a case (gallery pages, subject look-ups, face crops) are the agency
    admin's alone: for anyone else it would be a line-up without a case."""
    if not has_role(user, Role.AGENCY_ADMIN):
        raise ServiceError("gallery_admin_only", "Only the agency admin browses the faces of a "
                           "gallery. Officers and supervisors see enrolled faces as candidates "
                           "of searches in their cases.", status=403)


def _refuse(*, action: str, agency: Agency, user: Any, obj: Any, details: dict[str, Any],
            message: str, code: str = "not_assigned") -> ServiceError:
    """Record a refused look on its own (the request writes nothing else) and return the 403."""
    audit_record(action=action, agency=agency, actor=user, obj=obj, outcome=AuditOutcome.REFUSED,
                 details={**details, "code": code})
    return ServiceError(code, message, status=403)


def search_for_results(*, agency: Agency | None, user: Any, pk: Any,
                       action: str = AuditAction.RESULTS_VIEWED) -> Search:
    """A search whose results `user` asks for: 404 if not the agency's, 403 (audited) if its case
    is not one they are assigned to or supervise."""
    search = selectors.search_get(agency=agency, pk=pk)
    if not selectors.may_see_results(user=user, case=search.case):
        raise _refuse(action=action, agency=search.agency, user=user, obj=search,
                      details=case_audit_details(search.case, search_id=search.pk),
                      message=_not_open_message(user, search))
    return search


def _not_open_message(user: Any, search: Search) -> str:
    if has_role(user, Role.AGENCY_ADMIN):
        return ("Search results are shown to the officers and supervisors of their case and to "
                "auditors; the agency admin manages galleries.")
    return (f"You are not assigned to case {search.case.case_number}, so you cannot see its "
            "searches. Ask a supervisor to assign you.")


def search_results_open(*, agency: Agency | None, user: Any, pk: Any) -> Search:
    """A search opened to read its candidates (page, panel or API); the opening is audited."""
    search = search_for_results(agency=agency, user=user, pk=pk)
    search_results_viewed(search=search, actor=user)
    return search


def search_weak_candidates_open(*, agency: Agency | None, user: Any, pk: Any) -> tuple[Search, list[Any]]:
    """The weak candidates of a search where none passed the line, opened on purpose: audited.

    They sit below the agency's line (more likely a stranger than its policy accepts), so seeing
    them is a deliberate act on the record, never a side effect of opening the results.
    """
    search = search_for_results(agency=agency, user=user, pk=pk)
    weak = list(selectors.weak_candidates_of(search=search))
    if not weak:
        raise ServiceError("no_weak_candidates", "This search kept no weak candidates: they are "
                           "kept only when no candidate passes the line.", status=404)
    audit_record(action=AuditAction.WEAK_CANDIDATES_VIEWED, agency=search.agency, actor=user,
                 obj=search, details=case_audit_details(
                     search.case, search_id=search.pk, ranks=[c.rank for c in weak]))
    return search, weak


def candidate_image(*, agency: Agency | None, user: Any, pk: Any, rank: Any) -> FieldFile:
    """The enrolled face shown as candidate `rank` of a search, audited with the search."""
    search = search_for_results(agency=agency, user=user, pk=pk, action=AuditAction.IMAGE_VIEWED)
    candidate = selectors.candidate_get(search=search, rank=rank)
    face = candidate.shown_face
    if face is None:
        raise Http404("The face was removed")  # erased, or soft-removed by an opt-out
    _image_viewed(search, user, image="candidate", rank=candidate.rank, face_id=candidate.face_id,
                  gallery_id=candidate.gallery_id)
    return face.image


def candidate_open(*, agency: Agency | None, user: Any, pk: Any, rank: Any) -> Candidate:
    """One candidate opened on its compare page: the search's rule, audited as opening results."""
    search = search_results_open(agency=agency, user=user, pk=pk)
    return selectors.candidate_get(search=search, rank=rank)


def candidate_subject_face_image(*, agency: Agency | None, user: Any, pk: Any, rank: Any,
                                 face_pk: int) -> FieldFile:
    """Another enrolled face of candidate `rank`'s subject, seen from that search only: the
    search's rule and an `image_viewed` event with the case, never a way to browse a subject."""
    search = search_for_results(agency=agency, user=user, pk=pk, action=AuditAction.IMAGE_VIEWED)
    candidate = selectors.candidate_get(search=search, rank=rank)
    face = selectors.candidate_subject_faces(candidate=candidate).filter(pk=face_pk).first()
    if face is None:
        raise Http404("Not found")  # not this subject's, removed, or the candidate withdrawn
    _image_viewed(search, user, image="subject_face", rank=candidate.rank, face_id=face.pk,
                  gallery_id=face.gallery_id, subject_id=face.subject_id)
    return face.image


def probe_image(*, agency: Agency | None, user: Any, pk: Any, part: str) -> FieldFile:
    """The probe photo (`probe`) or its aligned face (`face`) of a search, audited."""
    search = search_for_results(agency=agency, user=user, pk=pk, action=AuditAction.IMAGE_VIEWED)
    field = getattr(search, PROBE_PARTS[part]) if part in PROBE_PARTS else None
    if not field:
        raise Http404("No image")
    _image_viewed(search, user, image=PROBE_PARTS[part])
    return field


def _image_viewed(search: Search, user: Any, **details: Any) -> None:
    audit_record(action=AuditAction.IMAGE_VIEWED, agency=search.agency, actor=user, obj=search,
                 details=case_audit_details(search.case, search_id=search.pk, **details))


def gallery_face_image(*, agency: Agency | None, user: Any, pk: Any) -> FieldFile:
    """An enrolled face seen through its gallery: the agency admin's alone, audited."""
    face: Face = selectors.face_get(agency=agency, pk=pk)
    details = {"image": "gallery", "face_id": face.pk, "gallery_id": face.gallery_id,
               "subject_id": face.subject_id}
    try:
        ensure_may_browse_enrolled_faces(user)
    except ServiceError as refusal:
        raise _refuse(action=AuditAction.IMAGE_VIEWED, agency=face.agency, user=user, obj=face,
                      details=details, code=refusal.code, message=refusal.message) from None
    audit_record(action=AuditAction.IMAGE_VIEWED, agency=face.agency, actor=user, obj=face,
                 details=details)
    return face.image

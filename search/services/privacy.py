"""Public opt-out (with suppression of future enrollment) and erasure by court order."""

from __future__ import annotations

from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from agencies.audit import audit_record
from agencies.models import Agency, AuditAction, AuditOutcome, Role
from agencies.permissions import ensure_acts_for, ensure_operator
from portal.config import setting
from portal.errors import ServiceError
from search import pipeline
from search.models import (
    ErasureOrder,
    Face,
    Gallery,
    OptOutRequest,
    OptOutStatus,
    Subject,
    Suppression,
)
from search.pipeline import ImageRejected, Pick
from search.services.erasure import faces_like, faces_remove
from search.services.files import jpeg_file


def _strict() -> float:
    return float(setting("OPT_OUT_SIMILARITY"))


def optout_submit(*, photo: bytes, email: str, residence: str) -> OptOutRequest:
    """Record a public request; only the aligned face crop is kept, until the decision."""
    face = pipeline.analyze(pipeline.decode(photo), pick=Pick.LARGEST, thorough=True)
    if face is None:
        raise ImageRejected("no_face", "We could not find a face in this photo. Send a clear, "
                            "frontal photo of yourself, alone.", status=422)
    with transaction.atomic():
        request = OptOutRequest.objects.create(
            photo=jpeg_file(pipeline.encode_jpeg(face.chip)), embedding=face.embedding.tolist(),
            model_name=pipeline.MODEL_NAME, email=email, residence=residence)
        audit_record(action=AuditAction.OPT_OUT_RECEIVED, agency=None, obj=request,
                     actor_name="public", details={"request_id": request.pk, "residence": residence})
    return request


def _require_operator(actor: Any) -> None:
    ensure_operator(actor, message="Only the platform operator decides opt-out requests.")


def _lock_pending(request: OptOutRequest) -> OptOutRequest:
    locked = OptOutRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != OptOutStatus.PENDING:
        raise ServiceError("already_decided", "This request has already been decided.", status=409)
    return locked


def _close(request: OptOutRequest, actor: Any, status: str, reason: str) -> None:
    photo = request.photo
    request.status, request.decided_by, request.decided_at = status, actor, timezone.now()
    request.decision_reason, request.photo, request.embedding = reason, "", None
    request.save()
    if photo:
        transaction.on_commit(lambda: photo.storage.delete(photo.name))


def optout_approve(*, request: OptOutRequest, actor: Any, reason: str = "") -> OptOutRequest:
    """Remove matching faces from every gallery that honours opt-outs, and suppress the face.

    This looks across all agencies on purpose (a platform duty); each agency's removals are
    written to that agency's own audit chain.
    """
    _require_operator(actor)
    with transaction.atomic():
        locked = _lock_pending(request)
        embedding = list(locked.embedding)
        Suppression.objects.create(embedding=embedding, model_name=locked.model_name, request=locked)
        matches = faces_like(Face.objects.filter(gallery__honours_opt_outs=True), embedding,
                             model_name=locked.model_name, min_similarity=_strict())
        per_agency, redacted = faces_remove(matches, reason="Removed: the person opted out")
        locked.faces_removed = sum(per_agency.values())
        _close(locked, actor, OptOutStatus.APPROVED, reason)
        for agency_id, count in per_agency.items():
            audit_record(action=AuditAction.DELETION, agency=Agency.objects.get(pk=agency_id),
                         actor=actor, obj=locked, details={"opt_out": locked.pk, "faces": count})
        audit_record(action=AuditAction.OPT_OUT_DECIDED, agency=None, actor=actor, obj=locked,
                     details={"decision": "approved", "faces_removed": locked.faces_removed,
                              "candidates_redacted": redacted})
        transaction.on_commit(lambda: _notify(locked))
    return locked


def optout_reject(*, request: OptOutRequest, actor: Any, reason: str) -> OptOutRequest:
    """Refuse a request, with the reason the person will read; the photo is deleted all the same."""
    _require_operator(actor)
    if not reason.strip():
        raise ServiceError("reason_required", "Say why the request is rejected; the person is told.")
    with transaction.atomic():
        locked = _lock_pending(request)
        _close(locked, actor, OptOutStatus.REJECTED, reason)
        audit_record(action=AuditAction.OPT_OUT_DECIDED, agency=None, actor=actor, obj=locked,
                     details={"decision": "rejected", "reason": reason})
        transaction.on_commit(lambda: _notify(locked))
    return locked


def _notify(request: OptOutRequest) -> None:
    outcome = ("was approved: every matching face was removed from the galleries that honour "
               "opt-outs, and your face will not be enrolled in them again"
               if request.status == OptOutStatus.APPROVED
               else f"was not approved. Reason: {request.decision_reason}")
    send_mail(subject=f"Your Casebound opt-out request {request.pk}",
              message=f"Your opt-out request {request.pk} {outcome}.",
              from_email=None, recipient_list=[request.email], fail_silently=True)


def ensure_not_suppressed(*, gallery: Gallery, embedding: Any, actor: Any) -> None:
    """Refuse to enroll, in a gallery honouring opt-outs, a face that has opted out."""
    if not gallery.honours_opt_outs:
        return
    suppressed = Suppression.objects.filter(model_name=pipeline.MODEL_NAME)
    if faces_like(suppressed, embedding, model_name=pipeline.MODEL_NAME,  # type: ignore[arg-type]
                  min_similarity=_strict()).exists():
        audit_record(action=AuditAction.ENROLLMENT_SUPPRESSED, agency=gallery.agency, actor=actor,
                     obj=gallery, outcome=AuditOutcome.REFUSED, actor_name="" if actor else "system")
        raise ServiceError("opted_out", "This person has opted out of Casebound; their face cannot "
                           "be enrolled in a gallery that honours opt-outs.", status=409)


def subject_erase(*, subject: Subject, actor: Any, order_reference: str,
                  order_type: str = "deletion") -> ErasureOrder:
    """Carry out a court order: the subject's faces, and matching faces in the agency's other
    galleries, are deleted with their files; past results keep a 'removed by order' line."""
    ensure_acts_for(actor, subject.agency, Role.AGENCY_ADMIN, code="agency_admin_required",
                    message="Only the agency admin records erasure orders.")
    if not order_reference.strip():
        raise ServiceError("order_reference_required", "Give the reference of the court order.")
    with transaction.atomic():
        own = Face.objects.for_agency(subject.agency).filter(subject=subject)
        agency_faces = Face.objects.for_agency(subject.agency)
        doomed_ids = set(own.values_list("pk", flat=True))
        for embedding in own.values_list("embedding", flat=True):
            doomed_ids |= set(faces_like(agency_faces, embedding, model_name=pipeline.MODEL_NAME,
                                         min_similarity=_strict()).values_list("pk", flat=True))
        per_agency, redacted = faces_remove(agency_faces.filter(pk__in=doomed_ids),
                                            reason=f"Removed by order {order_reference}")
        reference = subject.reference
        Subject.objects.filter(pk=subject.pk).delete()
        order = ErasureOrder.objects.create(
            agency=subject.agency, order_reference=order_reference, order_type=order_type,
            subject_reference=reference, faces_removed=sum(per_agency.values()),
            candidates_redacted=redacted, recorded_by=actor)
        audit_record(action=AuditAction.ERASURE_ORDER, agency=subject.agency, actor=actor, obj=order,
                     details={"order_reference": order_reference, "order_type": order_type,
                              "subject_reference": reference, "faces_removed": order.faces_removed,
                              "candidates_redacted": redacted})
    return order

"""Public opt-out (with suppression of future enrollment) and erasure by court order."""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from agencies.audit.models import AuditAction, AuditOutcome
from agencies.audit.trail import audit_record
from agencies.tenancy.models import Agency, Role
from agencies.tenancy.permissions import ensure_acts_for, ensure_operator
from portal.config import setting
from portal.errors import ServiceError
from portal.recipes import registered
from portal.weights import recipe_installed
from search import selectors
from search.engine import pipeline
from search.engine.pipeline import ImageRejected, Pick
from search.models import (
    OPT_OUT_BASES,
    AgencyAnswer,
    ErasureOrder,
    Face,
    Gallery,
    OptOutConsultation,
    OptOutRequest,
    OptOutStatus,
    Subject,
    Suppression,
)
from search.selectors import faces_like
from search.services.erasure import faces_remove
from search.services.files import jpeg_file


def _strict() -> float:
    return float(setting("OPT_OUT_SIMILARITY"))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def confirmation_link(token: str) -> str:
    """The mailed link that confirms an opt-out: on CASEBOUND_SITE_URL, never on the Host a request
    named, which a forged header could point elsewhere."""
    return str(setting("SITE_URL")).rstrip("/") + reverse("opt-out-confirm", args=[token])


def optout_submit(*, photo: bytes, email: str, residence: str,
                  link_for: Callable[[str], str] = confirmation_link) -> OptOutRequest:
    """Record a public request and mail a confirmation link; only the face crop is kept.

    The request reaches the operator only once the link is followed: whoever files must control
    the address, so a stranger's photo cannot be sent in anonymously under a throwaway name.
    """
    face = pipeline.analyze(pipeline.decode(photo), pick=Pick.LARGEST, thorough=True)
    if face is None:
        raise ImageRejected("no_face", "We could not find a face in this photo. Send a clear, "
                            "frontal photo of yourself, alone.", status=422)
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        request = OptOutRequest.objects.create(
            photo=jpeg_file(pipeline.encode_jpeg(face.chip)), embedding=face.embedding.tolist(),
            model_name=pipeline.MODEL_NAME, email=email, residence=residence,
            confirmation_digest=_digest(token))
        audit_record(action=AuditAction.OPT_OUT_RECEIVED, agency=None, obj=request,
                     actor_name="public", details={"request_id": request.pk, "residence": residence})
    hours = int(setting("OPT_OUT_CONFIRM_HOURS"))
    send_mail(subject=f"Confirm your Casebound opt-out request {request.pk}",
              message=f"Someone asked, with this e-mail address, to remove a face from Casebound "
                      f"(request {request.pk}). If it was you, confirm within {hours} hours:\n\n"
                      f"{link_for(token)}\n\nIf it was not you, ignore this message: the request "
                      "and its photo are deleted unconfirmed.",
              from_email=None, recipient_list=[email], fail_silently=True)
    return request


def _awaiting_confirmation(token: str) -> Any:
    window = timezone.now() - timedelta(hours=int(setting("OPT_OUT_CONFIRM_HOURS")))
    return OptOutRequest.objects.filter(confirmation_digest=_digest(token),
                                        status=OptOutStatus.UNCONFIRMED, created_at__gte=window)


def _invalid_link() -> ServiceError:
    return ServiceError("invalid_link", "This confirmation link is unknown, already used or "
                        "expired. Send your request again.", status=404)


def optout_link_check(*, token: str) -> None:
    """Refuse, before the button is shown, a link that could no longer confirm anything."""
    if not _awaiting_confirmation(token).exists():
        raise _invalid_link()


def optout_confirm(*, token: str) -> OptOutRequest:
    """Prove control of the address: the request enters the operator's queue."""
    with transaction.atomic():
        request = _awaiting_confirmation(token).select_for_update().first()
        if request is None:
            raise _invalid_link()
        request.status, request.confirmed_at = OptOutStatus.PENDING, timezone.now()
        request.confirmation_digest = ""
        request.save()
        audit_record(action=AuditAction.OPT_OUT_CONFIRMED, agency=None, obj=request,
                     actor_name="public", details={"request_id": request.pk})
    return request


def _require_operator(actor: Any) -> None:
    ensure_operator(actor, message="Only the platform operator decides opt-out requests.")


def _lock(request: OptOutRequest, *statuses: str) -> OptOutRequest:
    locked = OptOutRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status not in statuses:
        raise ServiceError("wrong_state", f"This request is {locked.get_status_display().lower()}; "
                           "it cannot take this step.", status=409)
    return locked


def _close(request: OptOutRequest, actor: Any, status: str, reason: str) -> None:
    photo = request.photo
    request.status, request.decided_by, request.decided_at = status, actor, timezone.now()
    request.decision_reason, request.photo, request.embedding = reason, "", None
    request.save()
    if photo:
        transaction.on_commit(lambda: photo.storage.delete(photo.name))


def optout_vectors(request: OptOutRequest) -> dict[str, list[float]]:
    """The request's face under every registered recipe that takes the stored chip and whose
    weights are installed; the request's own recipe from its stored embedding.

    Suppressions keep only a vector, so they are made under every recipe before the photo goes:
    an agency that later moves to one of these recipes stays covered (docs/architecture.md).
    """
    vectors = {request.model_name: list(request.embedding)} if request.embedding is not None else {}
    if not request.photo:
        return vectors
    with request.photo.open("rb") as handle:
        chip = pipeline.decode(handle.read())
    for recipe in registered().values():
        if recipe.name not in vectors and recipe.embeds_stored_chip and recipe_installed(recipe):
            vectors[recipe.name] = pipeline.embed_for(recipe, chip, None).tolist()
    return vectors


def _honouring(faces: QuerySet[Face]) -> QuerySet[Face]:
    """Only faces in galleries whose purpose lets an opt-out touch them (see OPT_OUT_BASES)."""
    return faces.filter(gallery__honours_opt_outs=True, gallery__legal_basis__in=OPT_OUT_BASES)


def optout_consult(*, request: OptOutRequest, actor: Any) -> OptOutRequest:
    """Find the matching faces in galleries that honour opt-outs and ask each holding agency.

    The operator learns only how many faces each agency holds; each agency sees its own faces.
    """
    _require_operator(actor)
    deadline = timezone.now() + timedelta(days=int(setting("OPT_OUT_OBJECTION_DAYS")))
    vectors = optout_vectors(request)  # the model runs before any row is locked
    with transaction.atomic():
        locked = _lock(request, OptOutStatus.PENDING)
        per_agency: dict[int, list[int]] = defaultdict(list)
        for recipe, vector in vectors.items():  # each agency's faces under its own recipe
            matches = faces_like(_honouring(Face.objects.all()), vector, model_name=recipe,
                                 min_similarity=_strict())
            for face_id, agency_id in matches.values_list("pk", "agency_id"):
                per_agency[agency_id].append(face_id)
        locked.status, locked.objection_deadline = OptOutStatus.CONSULTING, deadline
        locked.save()
        for agency in Agency.objects.filter(pk__in=per_agency):
            OptOutConsultation.objects.create(agency=agency, request=locked, deadline=deadline,
                                              face_ids=per_agency[agency.pk])
            audit_record(action=AuditAction.OPT_OUT_CONSULTED, agency=agency, actor=actor,
                         obj=locked, details={"opt_out": locked.pk, "faces": len(per_agency[agency.pk]),
                                              "deadline": deadline.isoformat()})
        audit_record(action=AuditAction.OPT_OUT_CONSULTED, agency=None, actor=actor, obj=locked,
                     details={"opt_out": locked.pk, "deadline": deadline.isoformat(),
                              "faces_per_agency": {str(k): len(v) for k, v in per_agency.items()}})
    return locked


def optout_answer(*, consultation: OptOutConsultation, actor: Any, confirm: bool,
                  reason: str = "") -> OptOutConsultation:
    """The agency admin confirms the removal of the agency's matching faces, or objects."""
    ensure_acts_for(actor, consultation.agency, Role.AGENCY_ADMIN, code="agency_admin_required",
                    message="Only the agency admin answers opt-out requests.")
    if not confirm and not reason.strip():
        raise ServiceError("reason_required", "Say why your agency keeps these faces (for example "
                           "the warrant or statute); the reason is audited.")
    with transaction.atomic():
        locked = (OptOutConsultation.objects.select_for_update(of=("self",)).select_related("request")
                  .get(pk=consultation.pk))
        if locked.request.status != OptOutStatus.CONSULTING:
            raise ServiceError("already_decided", "The operator has already decided this request.",
                               status=409)
        if locked.answer != AgencyAnswer.AWAITING or timezone.now() > locked.deadline:
            raise ServiceError("already_answered", "This request was already answered, or its "
                               "deadline passed (no answer counts as confirmation).", status=409)
        locked.answer = AgencyAnswer.CONFIRMED if confirm else AgencyAnswer.OBJECTED
        locked.reason, locked.answered_by, locked.answered_at = reason, actor, timezone.now()
        locked.save()
        details = {"opt_out": locked.request_id, "answer": locked.answer, "reason": reason,
                   "faces": len(locked.face_ids)}
        audit_record(action=AuditAction.OPT_OUT_ANSWERED, agency=locked.agency, actor=actor,
                     obj=locked, details=details)
        audit_record(action=AuditAction.OPT_OUT_ANSWERED, agency=None, actor=actor, obj=locked,
                     details={**details, "agency": locked.agency_id})
    return locked


def _apply_answer(consultation: OptOutConsultation, request: OptOutRequest, now: Any) -> int:
    """Soft-remove one agency's faces unless it objected; silence by the deadline confirms."""
    if consultation.answer == AgencyAnswer.AWAITING:
        consultation.answer, consultation.answered_at = AgencyAnswer.LAPSED, now
        consultation.save()
        audit_record(action=AuditAction.OPT_OUT_ANSWERED, agency=consultation.agency,
                     obj=consultation, actor_name="system",
                     details={"opt_out": request.pk, "answer": AgencyAnswer.LAPSED})
    if consultation.answer == AgencyAnswer.OBJECTED:
        return 0
    removed = (_honouring(Face.objects.for_agency(consultation.agency))
               .filter(pk__in=consultation.face_ids)
               .update(removed_at=now, removed_by_opt_out=request))
    grace = now + timedelta(days=int(setting("OPT_OUT_GRACE_DAYS")))
    audit_record(action=AuditAction.DELETION, agency=consultation.agency, obj=request,
                 actor_name="system", details={"opt_out": request.pk, "faces": removed,
                                               "soft": True, "purged_after": grace.isoformat()})
    return removed


def optout_approve(*, request: OptOutRequest, actor: Any, reason: str = "") -> OptOutRequest:
    """After the agencies' answers (or their deadline), soft-remove the confirmed faces and
    suppress the face from future enrollment in galleries that honour opt-outs."""
    _require_operator(actor)
    now = timezone.now()
    vectors = optout_vectors(request)
    with transaction.atomic():
        locked = _lock(request, OptOutStatus.CONSULTING)
        consultations = list(locked.consultations.select_for_update().select_related("agency"))
        if any(c.answer == AgencyAnswer.AWAITING and c.deadline > now for c in consultations):
            raise ServiceError("agencies_awaited", "Agencies may still object until "
                               f"{locked.objection_deadline:%Y-%m-%d %H:%M} UTC; approve after "
                               "that, or once every agency has answered.", status=409)
        per_agency = {c.agency_id: _apply_answer(c, locked, now) for c in consultations}
        objected = [c.agency_id for c in consultations if c.answer == AgencyAnswer.OBJECTED]
        Suppression.objects.bulk_create(  # one per recipe: the photo is deleted below
            Suppression(embedding=vector, model_name=recipe, request=locked,
                        exempt_agency_ids=objected) for recipe, vector in vectors.items())
        locked.faces_removed = sum(per_agency.values())
        _close(locked, actor, OptOutStatus.APPROVED, reason)
        audit_record(action=AuditAction.OPT_OUT_DECIDED, agency=None, actor=actor, obj=locked,
                     details={"decision": "approved", "faces_removed": locked.faces_removed,
                              "faces_per_agency": {str(k): v for k, v in per_agency.items()}})
        transaction.on_commit(lambda: _notify(locked))
    return locked


def optout_reject(*, request: OptOutRequest, actor: Any, reason: str) -> OptOutRequest:
    """Refuse a request, with the reason the person will read; the photo is deleted all the same."""
    _require_operator(actor)
    if not reason.strip():
        raise ServiceError("reason_required", "Say why the request is rejected; the person is told.")
    with transaction.atomic():
        locked = _lock(request, OptOutStatus.PENDING, OptOutStatus.CONSULTING)
        _close(locked, actor, OptOutStatus.REJECTED, reason)
        audit_record(action=AuditAction.OPT_OUT_DECIDED, agency=None, actor=actor, obj=locked,
                     details={"decision": "rejected", "reason": reason})
        transaction.on_commit(lambda: _notify(locked))
    return locked


def optout_restore(*, request: OptOutRequest, actor: Any, reason: str) -> OptOutRequest:
    """Undo a removal within the grace period: the faces return and the suppression is lifted."""
    _require_operator(actor)
    if not reason.strip():
        raise ServiceError("reason_required", "Say why the faces are restored; it is audited.")
    with transaction.atomic():
        locked = _lock(request, OptOutStatus.APPROVED)
        faces = Face.all_objects.filter(removed_by_opt_out=locked, removed_at__isnull=False)
        per_agency = Counter(faces.values_list("agency_id", flat=True))
        if not per_agency and locked.faces_removed:
            raise ServiceError("grace_ended", "The grace period has ended: these faces were "
                               "deleted and cannot be restored.", status=409)
        faces.update(removed_at=None, removed_by_opt_out=None)
        Suppression.objects.filter(request=locked).delete()
        locked.status, locked.decision_reason = OptOutStatus.RESTORED, reason
        locked.save()
        for agency in Agency.objects.filter(pk__in=per_agency):
            audit_record(action=AuditAction.OPT_OUT_RESTORED, agency=agency, actor=actor, obj=locked,
                         details={"opt_out": locked.pk, "faces": per_agency[agency.pk],
                                  "reason": reason})
        audit_record(action=AuditAction.OPT_OUT_RESTORED, agency=None, actor=actor, obj=locked,
                     details={"opt_out": locked.pk, "reason": reason,
                              "faces_per_agency": {str(k): v for k, v in per_agency.items()}})
    return locked


def optouts_housekeep(*, now: Any = None) -> dict[str, int]:
    """Daily: delete unconfirmed requests past their window (with their photo), and removed
    faces past their grace period (with their files)."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(OptOutRequest.objects.filter(
            status=OptOutStatus.UNCONFIRMED,
            created_at__lt=now - timedelta(hours=int(setting("OPT_OUT_CONFIRM_HOURS")))))
        photos = [r.photo for r in expired if r.photo]
        OptOutRequest.objects.filter(pk__in=[r.pk for r in expired]).delete()
        transaction.on_commit(lambda: [p.storage.delete(p.name) for p in photos])
        if expired:
            audit_record(action=AuditAction.OPT_OUT_EXPIRED, agency=None, actor_name="system",
                         details={"requests": [r.pk for r in expired]})
        grace = now - timedelta(days=int(setting("OPT_OUT_GRACE_DAYS")))
        per_agency, _ = faces_remove(Face.all_objects.filter(removed_at__lt=grace),
                                     reason="Removed: the person opted out")
        for agency in Agency.objects.filter(pk__in=per_agency):
            audit_record(action=AuditAction.DELETION, agency=agency, actor_name="system",
                         details={"faces": per_agency[agency.pk], "grace_ended": True})
    return {"unconfirmed_requests": len(expired), "faces": sum(per_agency.values())}


def _notify(request: OptOutRequest) -> None:
    outcome = ("was approved: the matching faces were removed from the galleries that honour "
               "opt-outs, except where an agency holding them objected, and your face will not "
               "be enrolled in them again"
               if request.status == OptOutStatus.APPROVED
               else f"was not approved. Reason: {request.decision_reason}")
    send_mail(subject=f"Your Casebound opt-out request {request.pk}",
              message=f"Your opt-out request {request.pk} {outcome}.",
              from_email=None, recipient_list=[request.email], fail_silently=True)


def ensure_not_suppressed(*, gallery: Gallery, embedding: Any, model_name: str,
                          actor: Any) -> None:
    """Refuse to enroll, in a gallery honouring opt-outs, a face that has opted out (compared with
    the suppressions made under the same recipe as the face's embedding)."""
    if not gallery.opt_outs_apply:  # a warrant or arrest gallery is never suppressed
        return
    suppressed = (Suppression.objects.filter(model_name=model_name)
                  .exclude(exempt_agency_ids__contains=[gallery.agency_id]))
    if faces_like(suppressed, embedding, model_name=model_name,  # type: ignore[arg-type]
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
        # Every gallery, whatever its purpose, and soft-removed faces too: a court order binds
        # the agency for all it holds, which an opt-out's gallery rule does not limit.
        agency_faces = Face.all_objects.for_agency(subject.agency)
        own = agency_faces.filter(subject=subject)
        doomed_ids = set(own.values_list("pk", flat=True))
        for embedding, recipe in own.values_list("embedding", "model_name"):
            doomed_ids |= set(faces_like(agency_faces, embedding, model_name=recipe,
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


def optout_photo_open(*, actor: Any, pk: Any) -> Any:
    """The photo a person sent with a confirmed opt-out, for the operator, audited like any face
    image. An unconfirmed request is not the operator's to see (404, like a missing one)."""
    ensure_operator(actor, message="Only the platform operator sees opt-out photos.")
    opt_out = selectors.operator_opt_outs().filter(pk=pk).first()
    if opt_out is None or not opt_out.photo:
        raise ServiceError("not_found", "No such request, or its photo was deleted when it was "
                           "decided.", status=404)
    audit_record(action=AuditAction.IMAGE_VIEWED, agency=None, actor=actor, obj=opt_out,
                 details={"image": "opt_out_photo", "opt_out_id": opt_out.pk})
    return opt_out.photo

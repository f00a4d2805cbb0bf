"""Galleries and the enrollment of faces into them."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import IntegrityError, transaction

from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from agencies.tenancy.models import Agency, Role
from agencies.tenancy.permissions import ensure_acts_for
from portal.changes import clean_or_refuse, fields_apply
from portal.config import setting
from portal.errors import ServiceError
from portal.recipes import Recipe, recipe_get
from search.engine import pipeline
from search.engine.pipeline import ImageRejected, Pick
from search.models import ACTIVE_REEMBED, OPT_OUT_BASES, Face, Gallery, LegalBasis, ReembedJob, Subject
from search.services.cohorts import face_cohort_compute
from search.services.files import jpeg_file
from search.services.privacy import ensure_not_suppressed
from search.services.reembed import recipe_held, recipe_of


@transaction.atomic
def gallery_create(*, agency: Agency, name: str, source: str, legal_basis: str,
                   actor: Any) -> Gallery:
    """Create a gallery with its provenance and legal basis."""
    _ensure_gallery_admin(actor, agency)
    if legal_basis not in LegalBasis.values:
        raise ServiceError("invalid_legal_basis", f"Unknown legal basis {legal_basis!r}.")
    if Gallery.objects.for_agency(agency).filter(name=name).exists():
        raise ServiceError("duplicate_gallery", f"Your agency already has a gallery named {name}.",
                           status=409)
    # Warrants, missing-person reports, court orders and arrest records are held under a duty
    # that a public opt-out cannot override; only other statutory galleries honour opt-outs.
    honours = legal_basis in OPT_OUT_BASES
    gallery = Gallery.objects.create(agency=agency, name=name, source=source, legal_basis=legal_basis,
                                     honours_opt_outs=honours)
    audit_record(action=AuditAction.GALLERY_CREATED, agency=agency, actor=actor, obj=gallery,
                 actor_name="" if getattr(actor, "pk", None) else "system",
                 details={"name": name, "source": source, "legal_basis": legal_basis})
    return gallery


GALLERY_SETTINGS = ("name", "source", "legal_basis", "honours_opt_outs", "retention_days")


@transaction.atomic
def gallery_update(*, gallery: Gallery, actor: Any, **changes: Any) -> Gallery:
    """Change a gallery's name, source, legal basis, opt-out rule or retention; audited with the
    values before and after. The model's rules refuse what the law does not allow (400)."""
    _ensure_gallery_admin(actor, gallery.agency)
    gallery = Gallery.objects.select_for_update().get(pk=gallery.pk)
    before = fields_apply(gallery, GALLERY_SETTINGS, changes)
    if gallery.legal_basis != before["legal_basis"] and Face.all_objects.filter(
            gallery=gallery).exists():
        # Its faces were enrolled under the old basis; relabelling them would also let a gallery
        # slip out of (or into) the reach of public opt-outs after the fact.
        raise ServiceError("legal_basis_fixed", "The legal basis of a gallery that holds faces "
                           "cannot change: they were enrolled under it. Create a gallery under the "
                           "new basis and enroll the faces there.", status=409)
    if gallery.honours_opt_outs and gallery.legal_basis not in OPT_OUT_BASES:
        # Said here in words; the check constraint still binds every other writer.
        raise ServiceError("opt_outs_not_allowed", "Only a gallery held under another statutory "
                           "basis may honour opt-outs. Untick it, or choose that legal basis.")
    if Gallery.objects.for_agency(gallery.agency).filter(name=gallery.name).exclude(
            pk=gallery.pk).exists():
        raise ServiceError("duplicate_gallery", f"Your agency already has a gallery named "
                           f"{gallery.name}; choose another name.", status=409)
    clean_or_refuse(gallery, code="invalid_gallery")
    gallery.save()
    after = {name: getattr(gallery, name) for name in GALLERY_SETTINGS}
    audit_record(action=AuditAction.GALLERY_CHANGED, agency=gallery.agency, actor=actor,
                 obj=gallery, details={
                     "before": {k: v for k, v in before.items() if v != after[k]},
                     "after": {k: v for k, v in after.items() if v != before[k]}})
    return gallery


def _ensure_gallery_admin(actor: Any, agency: Agency) -> None:
    ensure_acts_for(actor, agency, Role.AGENCY_ADMIN, code="agency_admin_required",
                    message="Only the agency admin of this agency manages its galleries.")


def _subject_for(gallery: Gallery, reference: str, display_name: str) -> Subject:
    subject, created = Subject.objects.get_or_create(
        agency=gallery.agency, gallery=gallery, reference=reference,
        defaults={"display_name": display_name},
    )
    if not created and display_name and not subject.display_name:
        subject.display_name = display_name
        subject.save(update_fields=["display_name"])
    return subject


def face_enroll(*, gallery: Gallery, subject_reference: str, image: bytes, actor: Any,
                display_name: str = "", provenance: str = "") -> Face:
    """Detect, align and embed the main face of a photo and add it to a subject in a gallery.

    The model runs before the transaction opens, so no row lock is held while it works. `actor`
    is the agency admin, or SYSTEM for the operator's commands on the server.
    """
    _ensure_gallery_admin(actor, gallery.agency)
    reference = subject_reference.strip()
    if not reference:
        raise ImageRejected("subject_reference_required", "Give the subject's reference.")
    digest = hashlib.sha256(image).hexdigest()
    if Face.all_objects.for_agency(gallery.agency).filter(gallery=gallery,
                                                          source_sha256=digest).exists():
        raise _already_enrolled(gallery)  # before the model runs: re-runs of a folder are cheap
    rgb = pipeline.decode(image)
    for _ in range(2):  # once more if a re-embedding job switched the agency's recipe meanwhile
        enrolling = _Enrolling.of(gallery, rgb)
        ensure_not_suppressed(gallery=gallery, embedding=enrolling.face.embedding.tolist(),
                              model_name=enrolling.recipe.name, actor=actor)
        try:
            return _face_store(gallery, reference, display_name, enrolling, digest, provenance,
                               actor)
        except _RecipeMoved:
            continue
        except IntegrityError as exc:  # the same photo, enrolled by a concurrent request
            if "face_photo_once_per_gallery" in str(exc):
                raise _already_enrolled(gallery) from None
            raise
    raise ServiceError("recipe_changed", "The agency's face model changed twice while this photo "
                       "was enrolled. Enroll it again.", status=409)


class _RecipeMoved(Exception):
    """The agency's recipe changed between embedding a photo and storing it."""


class _Enrolling:
    """A photo analysed under the agency's recipe, and under a running job's target recipe."""

    def __init__(self, rgb: Any, recipe: Recipe, face: pipeline.FaceResult,
                 pending: tuple[str, Any] | None) -> None:
        self.rgb, self.recipe, self.face, self.pending = rgb, recipe, face, pending

    @classmethod
    def of(cls, gallery: Gallery, rgb: Any) -> _Enrolling:
        recipe = recipe_get(recipe_of(gallery.agency_id))
        face = pipeline.analyze(rgb, pick=Pick.LARGEST, thorough=True, recipe=recipe)
        if face is None:
            raise ImageRejected("no_face", "No face was found in this photo. Use a clear, frontal "
                                "photo in which the face is at least 80 pixels wide.", status=422)
        job = ReembedJob.objects.for_agency(gallery.agency).filter(status__in=ACTIVE_REEMBED).first()
        pending = None
        if job is not None:  # a face enrolled during a re-embedding gets the new vector too
            target = recipe_get(job.to_recipe)
            pending = (target.name, pipeline.embed_for(target, face.chip, rgb).tolist())
        return cls(rgb, recipe, face, pending)


def _recipe_still(gallery: Gallery, enrolling: _Enrolling) -> None:
    """Hold the agency row (shared) until the face commits: a job's switch waits for it, and a
    switch that committed first sends the photo round again."""
    if recipe_held(gallery.agency_id) != enrolling.recipe.name:
        raise _RecipeMoved


def _already_enrolled(gallery: Gallery) -> ServiceError:
    return ServiceError("already_enrolled", f"This photo is already enrolled in {gallery.name}.",
                        status=409)


def _face_store(gallery: Gallery, reference: str, display_name: str, enrolling: _Enrolling,
                digest: str, provenance: str, actor: Any) -> Face:
    face = enrolling.face
    with transaction.atomic():
        _recipe_still(gallery, enrolling)
        subject = _subject_for(gallery, reference, display_name.strip())
        pending = _pending_now(gallery, enrolling)
        enrolled = Face.objects.create(
            agency=gallery.agency, gallery=gallery, subject=subject,
            image=jpeg_file(pipeline.encode_jpeg(face.chip)),
            source_image=jpeg_file(pipeline.encode_jpeg(
                enrolling.rgb, max_side=int(setting("SOURCE_PHOTO_MAX_SIDE")))),
            embedding=face.embedding.tolist(), model_name=enrolling.recipe.name,
            embedding_next=pending,
            detector=face.detector, box=face.box, quality=face.quality,
            provenance=provenance or gallery.source, source_sha256=digest,
            enrolled_by=actor if getattr(actor, "pk", None) else None,
        )
        face_cohort_compute(face=enrolled)
        audit_record(action=AuditAction.ENROLLMENT, agency=gallery.agency, actor=actor, obj=enrolled,
                     actor_name="" if getattr(actor, "pk", None) else "system",
                     details={"gallery_id": gallery.pk, "subject_reference": reference,
                              "provenance": enrolled.provenance})
        return enrolled


def _pending_now(gallery: Gallery, enrolling: _Enrolling) -> Any:
    """The new-recipe vector, if the job it was made for is still the agency's active one; else
    none, and the job embeds this face itself."""
    if enrolling.pending is None:
        return None
    target, vector = enrolling.pending
    active = ReembedJob.objects.for_agency(gallery.agency).filter(status__in=ACTIVE_REEMBED,
                                                                  to_recipe=target)
    return vector if active.exists() else None

"""Bulk enrollment: a ZIP of photos with a CSV manifest, enrolled in chunks by Celery tasks.

Nothing is extracted to disk: members are read from the stored archive by name. Each photo goes
through the same face_enroll as a single upload. A photo's provenance ends with the hash of its
bytes, so re-running the same archive (or the same photo in another) enrolls nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from agencies.audit import audit_record
from agencies.models import AuditAction, Role
from agencies.permissions import ensure_acts_for
from portal.errors import ServiceError
from search.models import (
    BatchStatus,
    EnrollmentBatch,
    EnrollmentItem,
    Face,
    Gallery,
    ItemStatus,
)
from search.services.enrollment import face_enroll

MANIFEST = "manifest.csv"
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
MAX_FILES = 20_000
MAX_UNCOMPRESSED_BYTES = 4 * 1024 * 1024 * 1024  # a zip bomb is refused before anything is read
CHUNK = 25
FIELDS = ("file", "subject_reference", "display_name", "source", "date")


def _open_archive(data: bytes) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ServiceError("not_a_zip", "The file is not a ZIP archive. Upload a .zip with the "
                           "photos and a manifest.csv.") from None
    members = archive.infolist()
    if len(members) > MAX_FILES:
        raise ServiceError("too_many_files", f"The archive holds {len(members)} files; the limit "
                           f"is {MAX_FILES}. Split it into several batches.", status=413)
    if sum(m.file_size for m in members) > MAX_UNCOMPRESSED_BYTES:
        raise ServiceError("archive_too_large", "The archive unpacks to more than 4 GB. Split it.",
                           status=413)
    return archive


def _manifest(archive: zipfile.ZipFile) -> list[dict[str, str]]:
    try:
        text = archive.read(MANIFEST).decode("utf-8-sig")
    except KeyError:
        raise ServiceError("manifest_missing", f"The archive has no {MANIFEST} at its top level. "
                           f"Its columns: {', '.join(FIELDS)}.") from None
    except UnicodeDecodeError:
        raise ServiceError("manifest_unreadable", f"{MANIFEST} must be UTF-8 text.") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or not {"file", "subject_reference"} <= set(rows[0]):
        raise ServiceError("manifest_columns", f"{MANIFEST} needs at least the columns file and "
                           f"subject_reference (all: {', '.join(FIELDS)}).")
    return rows


def batch_create(*, gallery: Gallery, actor: Any, data: bytes) -> EnrollmentBatch:
    """Check the archive and manifest, record one item per manifest line, queue the work."""
    ensure_acts_for(actor, gallery.agency, Role.AGENCY_ADMIN, code="agency_admin_required",
                    message="Only the agency admin enrolls faces.")
    if len(data) > MAX_ARCHIVE_BYTES:
        raise ServiceError("archive_too_large", "The archive is over 512 MB. Split it.", status=413)
    archive = _open_archive(data)
    rows, names = _manifest(archive), set(archive.namelist())
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        batch = EnrollmentBatch.objects.create(
            agency=gallery.agency, gallery=gallery, archive_sha256=digest, total=len(rows),
            archive=ContentFile(data, name=f"{digest[:16]}.zip"), created_by=actor)
        EnrollmentItem.objects.bulk_create(_item(batch, row, names) for row in rows)
        audit_record(action=AuditAction.ENROLLMENT, agency=gallery.agency, actor=actor, obj=batch,
                     details={"batch": batch.pk, "photos": len(rows), "archive_sha256": digest})
        transaction.on_commit(lambda: _enqueue(batch))
    return batch


def _item(batch: EnrollmentBatch, row: dict[str, str], names: set[str]) -> EnrollmentItem:
    item = EnrollmentItem(agency=batch.agency, batch=batch, file_name=(row.get("file") or "").strip(),
                          subject_reference=(row.get("subject_reference") or "").strip(),
                          display_name=(row.get("display_name") or "").strip(),
                          source=(row.get("source") or "").strip(), taken_on=(row.get("date") or "").strip())
    if item.file_name not in names:
        item.status, item.error_code = ItemStatus.FAILED, "missing_file"
        item.error = f"{item.file_name or '(empty)'} is listed in the manifest but not in the archive."
    return item


def _enqueue(batch: EnrollmentBatch) -> None:
    from search.tasks import enroll_batch_items

    ids = list(batch.items.filter(status=ItemStatus.PENDING).values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        enroll_batch_items.delay(batch.pk, ids[start:start + CHUNK], batch.agency_id)


def batch_items_enroll(*, batch_id: int, item_ids: list[int]) -> None:
    """Enroll one chunk. A redelivered chunk (its worker died) picks up its unfinished items."""
    batch = EnrollmentBatch.objects.select_related("gallery").get(pk=batch_id)
    EnrollmentBatch.objects.filter(pk=batch_id, status=BatchStatus.QUEUED).update(
        status=BatchStatus.RUNNING)
    with batch.archive.open("rb") as handle, zipfile.ZipFile(handle) as archive:
        for item_id in item_ids:
            claimed = EnrollmentItem.objects.filter(
                pk=item_id, batch_id=batch_id,
                status__in=(ItemStatus.PENDING, ItemStatus.RUNNING)).update(status=ItemStatus.RUNNING)
            if claimed:
                _enroll_item(batch, EnrollmentItem.objects.get(pk=item_id), archive)
    _finish_if_complete(batch)


def _enroll_item(batch: EnrollmentBatch, item: EnrollmentItem, archive: zipfile.ZipFile) -> None:
    photo = archive.read(item.file_name)
    # The photo's own hash is its identity: the same photo is never enrolled twice in a gallery,
    # whichever archive or file name it comes with.
    fingerprint = f"sha256:{hashlib.sha256(photo).hexdigest()}"
    provenance = f"{item.source or 'bulk enrollment'}, {item.taken_on}, {item.file_name} {fingerprint}"
    if Face.objects.for_agency(batch.agency).filter(gallery=batch.gallery,
                                                    provenance__endswith=fingerprint).exists():
        item.status = ItemStatus.DUPLICATE
    else:
        try:
            item.face = face_enroll(gallery=batch.gallery, subject_reference=item.subject_reference,
                                    image=photo, actor=batch.created_by,
                                    display_name=item.display_name, provenance=provenance[:300])
            item.status = ItemStatus.DONE
        except ServiceError as exc:
            item.status, item.error_code, item.error = ItemStatus.FAILED, exc.code, exc.message
    item.save(update_fields=["status", "face", "error_code", "error"])


def _finish_if_complete(batch: EnrollmentBatch) -> None:
    with transaction.atomic():
        if batch.items.filter(status__in=(ItemStatus.PENDING, ItemStatus.RUNNING)).exists():
            return
        finished = EnrollmentBatch.objects.filter(pk=batch.pk).exclude(
            status=BatchStatus.DONE).update(status=BatchStatus.DONE, finished_at=timezone.now())
        if finished:  # the source photos are not kept: only the enrolled face crops are
            archive = batch.archive
            transaction.on_commit(lambda: archive.storage.delete(archive.name))


def batch_counts(batch: EnrollmentBatch) -> dict[str, int]:
    """How many items are in each state, for the progress bar."""
    counts = dict(batch.items.values_list("status").annotate(n=Count("pk")))
    return {status: counts.get(status, 0) for status in ItemStatus.values}

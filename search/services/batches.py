"""Bulk enrollment: a ZIP of photos with a CSV manifest, enrolled in chunks by Celery tasks.

Nothing is extracted to disk: members are read from the stored archive by name. Each photo goes
through the same face_enroll as a single upload. A photo's provenance ends with the hash of its
bytes, so re-running the same archive (or the same photo in another) enrolls nothing twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import zipfile
import zlib
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from agencies.tenancy.models import Role
from agencies.tenancy.permissions import ensure_acts_for
from portal.config import setting
from portal.errors import ServiceError
from portal.workers import live_workers, worker_identity
from search.models import (
    BatchStatus,
    EnrollmentBatch,
    EnrollmentItem,
    Gallery,
    ItemStatus,
)
from search.services.cohorts import cohorts_refresh_later
from search.services.enrollment import face_enroll

MANIFEST = "manifest.csv"
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024
MAX_FILES = 20_000
MAX_UNCOMPRESSED_BYTES = 4 * 1024 * 1024 * 1024  # a zip bomb is refused before anything is read
CHUNK = 25
FIELDS = ("file", "subject_reference", "display_name", "source", "date")
# Manifest column -> item field; the field's max_length bounds the column.
COLUMNS = {"file": "file_name", "subject_reference": "subject_reference",
           "display_name": "display_name", "source": "source", "date": "taken_on"}
PROVENANCE_LENGTH = 300  # Face.provenance
# What a damaged member raises while it is read: bad CRC, broken deflate stream, truncation,
# encryption (RuntimeError), an unsupported compression method.
MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError)


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
        text = _read_member(archive, MANIFEST).decode("utf-8-sig")
    except KeyError:
        raise ServiceError("manifest_missing", f"The archive has no {MANIFEST} at its top level. "
                           f"Its columns: {', '.join(FIELDS)}.") from None
    except UnicodeDecodeError:
        raise ServiceError("manifest_unreadable", f"{MANIFEST} must be UTF-8 text.") from None
    rows = _manifest_rows(text)
    if not rows or not {"file", "subject_reference"} <= set(rows[0]):
        raise ServiceError("manifest_columns", f"{MANIFEST} needs at least the columns file and "
                           f"subject_reference (all: {', '.join(FIELDS)}).")
    return rows


def _manifest_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    try:  # one row past the limit is enough to refuse; the rest is never parsed
        rows = list(itertools.islice(reader, MAX_FILES + 1))
    except csv.Error as exc:
        raise ServiceError("manifest_unreadable", f"{MANIFEST} is not valid CSV near line "
                           f"{reader.line_num}: {exc}. Save it again as CSV (UTF-8).") from None
    if len(rows) > MAX_FILES:
        raise ServiceError("too_many_files", f"{MANIFEST} lists more than {MAX_FILES} photos. "
                           "Split it into several batches.", status=413)
    return rows


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """One member's bytes, refusing an encrypted, oversized or damaged one before or while reading.

    Raises KeyError when there is no such member.
    """
    info, limit = archive.getinfo(name), setting("MAX_UPLOAD_BYTES")
    if info.flag_bits & 0x1:
        raise ServiceError("encrypted_file", f"{name} is encrypted. Add it to the archive without a "
                           "password.")
    if info.file_size > limit:
        raise ServiceError("file_too_large", f"{name} unpacks to {info.file_size / 1e6:.1f} MB; the "
                           f"limit is {limit / 1e6:.0f} MB a file.", status=413)
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)  # the declared size may lie; the read does not go past
    except MEMBER_ERRORS as exc:
        raise ServiceError("damaged_file", f"{name} could not be read from the archive ({exc}). "
                           "Zip it again and upload it in a new batch.") from None
    if len(data) > limit:
        raise ServiceError("file_too_large", f"{name} unpacks to more than {limit / 1e6:.0f} MB.",
                           status=413)
    return data


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
    item = EnrollmentItem(agency=batch.agency, batch=batch)
    problems = [problem for column, field in COLUMNS.items()
                if (problem := _set_column(item, field, column, row.get(column)))]
    if problems:  # the row fails alone; what fits of it is kept for the error report
        item.status, item.error_code, item.error = ItemStatus.FAILED, "invalid_manifest_row", \
            " ".join(problems)
    elif item.file_name not in names:
        item.status, item.error_code = ItemStatus.FAILED, "missing_file"
        item.error = f"{item.file_name or '(empty)'} is listed in the manifest but not in the archive."
    return item


def _set_column(item: EnrollmentItem, field: str, column: str, raw: Any) -> str:
    """Store one manifest value on the item, cut to fit; return what is wrong with it, or ""."""
    value = (raw if isinstance(raw, str) else "").strip()
    limit = getattr(EnrollmentItem._meta.get_field(field), "max_length", None) or len(value)
    setattr(item, field, value.replace("\x00", "")[:limit])  # Postgres text cannot hold NUL
    if "\x00" in value:
        return f"The {column} column holds a NUL character."
    if len(value) > limit:
        return f"The {column} column is {len(value)} characters long; the limit is {limit}."
    return ""


def _enqueue(batch: EnrollmentBatch) -> None:
    from search.tasks import enroll_batch_items

    ids = list(batch.items.filter(status=ItemStatus.PENDING).values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        enroll_batch_items.delay(batch.pk, ids[start:start + CHUNK], batch.agency_id)


def batch_items_enroll(*, batch_id: int, item_ids: list[int]) -> None:
    """Enroll one chunk. An item is claimed by one worker process at a time: a pending one, or
    one this process claimed before a transient error; a dead worker's items are given back by
    `batches_recover_orphans`."""
    batch = EnrollmentBatch.objects.select_related("gallery").get(pk=batch_id)
    EnrollmentBatch.objects.filter(pk=batch_id, status=BatchStatus.QUEUED).update(
        status=BatchStatus.RUNNING)
    worker = worker_identity()
    mine = Q(status=ItemStatus.PENDING) | Q(status=ItemStatus.RUNNING, claimed_by=worker)
    with batch.archive.open("rb") as handle, zipfile.ZipFile(handle) as archive:
        for item_id in item_ids:
            claimed = EnrollmentItem.objects.filter(mine, pk=item_id, batch_id=batch_id).update(
                status=ItemStatus.RUNNING, claimed_by=worker)
            if claimed:
                _enroll_item(batch, EnrollmentItem.objects.get(pk=item_id), archive)
    _finish_if_complete(batch)


def batches_recover_orphans() -> list[tuple[int, list[int], int]]:
    """Give back the items claimed by worker processes whose heartbeat has expired.

    Returns (batch id, item ids, agency id) chunks to enqueue again: the orphans and the other
    pending items of their batches, which the dead worker's chunk may have held. A chunk that is
    also still queued finds those items claimed already, so each is enrolled once.
    """
    running = EnrollmentItem.objects.filter(status=ItemStatus.RUNNING).exclude(claimed_by="")
    claimers = set(running.values_list("claimed_by", flat=True))
    gone = claimers - live_workers(claimers)
    if not gone:
        return []
    orphans = running.filter(claimed_by__in=gone)
    batch_ids = set(orphans.values_list("batch_id", flat=True))
    orphans.update(status=ItemStatus.PENDING, claimed_by="")
    pending = EnrollmentItem.objects.filter(batch_id__in=batch_ids, status=ItemStatus.PENDING)
    chunks: list[tuple[int, list[int], int]] = []
    for (batch_id, agency_id), rows in itertools.groupby(
            pending.order_by("batch_id", "pk").values_list("batch_id", "agency_id", "pk"),
            key=lambda row: (row[0], row[1])):
        ids = [pk for _batch, _agency, pk in rows]
        chunks += [(batch_id, ids[i:i + CHUNK], agency_id) for i in range(0, len(ids), CHUNK)]
    return chunks


def _enroll_item(batch: EnrollmentBatch, item: EnrollmentItem, archive: zipfile.ZipFile) -> None:
    try:
        photo = _read_member(archive, item.file_name)
        # The photo's fingerprint stays readable in the provenance; cut the origin, never it.
        fingerprint = f"sha256:{hashlib.sha256(photo).hexdigest()}"
        origin = f"{item.source or 'bulk enrollment'}, {item.taken_on}, {item.file_name}"
        provenance = f"{origin[:PROVENANCE_LENGTH - len(fingerprint) - 1]} {fingerprint}"
        item.face = face_enroll(gallery=batch.gallery, subject_reference=item.subject_reference,
                                image=photo, actor=batch.created_by,
                                display_name=item.display_name, provenance=provenance)
        item.status = ItemStatus.DONE
    except ServiceError as exc:  # a bad member fails alone; the batch goes on
        if exc.code == "already_enrolled":  # the same photo, whatever its archive or file name
            item.status = ItemStatus.DUPLICATE
            item.save(update_fields=["status"])
            return
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
            cohorts_refresh_later({batch.agency_id})

"""Bulk enrollment against hostile or damaged archives: each bad member or manifest row fails
alone with its reason, the batch still finishes and its archive is deleted; a manifest is capped
before it is read. Through the real API and the real Celery worker."""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from search.models import EnrollmentBatch, EnrollmentItem, Face
from search.services.batches import MAX_FILES
from tests import photos
from tests.factories import GalleryFactory
from tests.fixtures import api_client, wait_for, web_client

HEADER = "file,subject_reference,display_name,source,date"


def _zip(members: dict[str, bytes], manifest: str,
         method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr("manifest.csv", manifest)
    return buffer.getvalue()


def _mark_encrypted(data: bytes, name: str) -> bytes:
    """Set the 'encrypted' flag of a member in its local header and its central directory entry,
    as a password-protected ZIP has it (Python's zipfile cannot write encrypted members)."""
    raw = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        raw[archive.getinfo(name).header_offset + 6] |= 0x1
    entry = raw.find(b"PK\x01\x02")
    while entry != -1:
        length = int.from_bytes(raw[entry + 28:entry + 30], "little")
        if raw[entry + 46:entry + 46 + length] == name.encode():
            raw[entry + 8] |= 0x1
        entry = raw.find(b"PK\x01\x02", entry + 1)
    return bytes(raw)


def _corrupt(data: bytes, member: bytes) -> bytes:
    """Flip a byte inside a stored member's data: its CRC no longer matches."""
    raw = bytearray(data)
    raw[raw.index(member) + len(member) // 2] ^= 0xFF
    return bytes(raw)


def _upload(user: Any, gallery: Any, data: bytes) -> Any:
    archive = SimpleUploadedFile("batch.zip", data, content_type="application/zip")
    return api_client(user).post(f"/api/v1/galleries/{gallery.pk}/batches/", {"archive": archive},
                                 format="multipart")


def _finished(user: Any, batch_id: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = api_client(user).get(f"/api/v1/batches/{batch_id}/").json()
        return body if body["status"] == "done" else None

    return wait_for(check, timeout=120)


def _error_report(user: Any, batch_id: int) -> dict[str, tuple[str, str]]:
    text = web_client(user).get(f"/batches/{batch_id}/errors.csv").content.decode()
    return {row["file"]: (row["code"], row["reason"]) for row in csv.DictReader(io.StringIO(text))}


def _archive_deleted(batch_id: int) -> bool:
    archive = EnrollmentBatch.objects.get(pk=batch_id).archive
    return not archive.storage.exists(archive.name)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_encrypted_damaged_and_oversized_members_fail_alone(cast, celery_worker) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    good, damaged = photos.photo("Colin_Powell", 0), photos.photo("Tony_Blair", 0)
    huge = b"\0" * (settings.CASEBOUND["MAX_UPLOAD_BYTES"] + 1)  # deflates to a few KB
    members = {"good.jpg": good, "locked.jpg": photos.photo("Laura_Bush", 0),
               "damaged.jpg": damaged, "huge.jpg": huge}
    manifest = "\n".join([HEADER, *(f"{name},P-{n}" for n, name in enumerate(members))]) + "\n"
    data = _zip(members, manifest, method=zipfile.ZIP_STORED)
    data = _corrupt(_mark_encrypted(data, "locked.jpg"), damaged)
    huge_deflated = _zip({"huge.jpg": huge}, f"{HEADER}\nhuge.jpg,P-3\n")
    response = _upload(cast.admin, gallery, data)
    assert response.status_code == 202, response.content
    body = _finished(cast.admin, response.json()["id"])
    assert body["counts"]["done"] == 1 and body["counts"]["failed"] == 3, body
    report = _error_report(cast.admin, body["id"])
    assert report["locked.jpg"][0] == "encrypted_file" and "without a password" in report["locked.jpg"][1]
    assert report["damaged.jpg"][0] == "damaged_file" and "Zip it again" in report["damaged.jpg"][1]
    assert report["huge.jpg"][0] == "file_too_large" and "limit is" in report["huge.jpg"][1]
    assert Face.objects.filter(gallery=gallery).count() == 1
    wait_for(lambda: _archive_deleted(body["id"]), timeout=10)
    # Compressed, the oversized member is refused from its declared size as well.
    bomb = _finished(cast.admin, _upload(cast.admin, gallery, huge_deflated).json()["id"])
    assert _error_report(cast.admin, bomb["id"])["huge.jpg"][0] == "file_too_large"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_over_long_manifest_values_fail_their_row_alone(cast, celery_worker) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    members = {f"p{n}.jpg": photos.photo(person, 0)
               for n, person in enumerate(["Colin_Powell", "Tony_Blair", "Laura_Bush", "Hugo_Chavez"])}
    manifest = "\n".join([
        HEADER,
        "p0.jpg,BK-1,Colin Powell,County jail,2024-03-01",
        f"p1.jpg,{'R' * 101},Tony Blair,County jail,2024-03-01",
        f"p2.jpg,BK-3,{'N' * 201},{'S' * 301},{'2' * 21}",
        "p3.jpg,BK-4,Hugo\x00Chavez,County jail,2024-03-01",  # Postgres text cannot hold NUL
    ]) + "\n"
    response = _upload(cast.admin, gallery, _zip(members, manifest))
    assert response.status_code == 202, response.content
    body = _finished(cast.admin, response.json()["id"])
    assert body["counts"]["done"] == 1 and body["counts"]["failed"] == 3, body
    report = _error_report(cast.admin, body["id"])
    assert report["p3.jpg"] == ("invalid_manifest_row", "The display_name column holds a NUL "
                                "character.")
    assert report["p1.jpg"] == ("invalid_manifest_row", "The subject_reference column is 101 "
                                "characters long; the limit is 100.")
    code, reason = report["p2.jpg"]
    assert code == "invalid_manifest_row"
    assert "display_name column is 201" in reason and "source column is 301" in reason
    assert "date column is 21 characters long; the limit is 20." in reason
    assert EnrollmentItem.objects.get(batch_id=body["id"], file_name="p1.jpg").subject_reference \
        == "R" * 100  # kept, cut to fit, for the report
    wait_for(lambda: _archive_deleted(body["id"]), timeout=10)


def test_a_manifest_over_the_file_count_is_refused_before_its_rows_are_stored(cast) -> None:
    rows = "\n".join(f"photos/{n}.jpg,BK-{n}" for n in range(MAX_FILES + 1))
    response = _upload(cast.admin, GalleryFactory(agency=cast.agency),
                       _zip({}, f"{HEADER}\n{rows}\n"))
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "too_many_files"
    assert not EnrollmentBatch.objects.exists() and not EnrollmentItem.objects.exists()


def test_a_manifest_over_the_size_limit_is_refused_before_it_is_read(cast) -> None:
    line = f"a.jpg,BK-1,{'x' * settings.CASEBOUND['MAX_UPLOAD_BYTES']}\n"
    response = _upload(cast.admin, GalleryFactory(agency=cast.agency), _zip({}, HEADER + "\n" + line))
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert "manifest.csv unpacks to" in response.json()["detail"]


def test_a_damaged_manifest_is_refused_with_a_reason(cast) -> None:
    manifest = f"{HEADER}\nphotos/a.jpg,BK-1,Some One,County jail,2024-03-01\n" * 50
    data = _corrupt(_zip({}, manifest, method=zipfile.ZIP_STORED), manifest.encode())
    response = _upload(cast.admin, GalleryFactory(agency=cast.agency), data)
    assert response.status_code == 400 and response.json()["code"] == "damaged_file"


def test_a_manifest_that_is_not_csv_is_refused_with_a_reason(cast) -> None:
    manifest = f'{HEADER}\na.jpg,BK-1,"{"x" * 200_000}"\n'  # a field over the CSV reader's limit
    response = _upload(cast.admin, GalleryFactory(agency=cast.agency), _zip({}, manifest))
    assert response.status_code == 400 and response.json()["code"] == "manifest_unreadable"
    assert "near line" in response.json()["detail"]

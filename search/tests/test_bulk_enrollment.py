"""Bulk enrollment of a ZIP with a manifest, on a real Celery worker."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from search.models import Face
from tests import photos
from tests.factories import GalleryFactory
from tests.fixtures import api_client, wait_for, web_client

PEOPLE = ["Colin_Powell", "Tony_Blair", "Laura_Bush", "Hugo_Chavez"]


def _archive(extra_manifest: str = "") -> bytes:
    buffer = io.BytesIO()
    lines = ["file,subject_reference,display_name,source,date"]
    with zipfile.ZipFile(buffer, "w") as archive:
        for person in PEOPLE:
            for index in (0, 1):
                name = f"photos/{person}_{index}.jpg"
                archive.writestr(name, photos.photo(person, index))
                lines.append(f"{name},{person},{person.replace('_', ' ')},County jail,2024-03-0{index + 1}")
        archive.writestr("photos/scan.jpg", b"%PDF-1.4 not a photo")
        lines.append("photos/scan.jpg,BK-9,,County jail,2024-03-01")
        lines.append("photos/missing.jpg,BK-10,,County jail,2024-03-01")
        archive.writestr("manifest.csv", "\n".join(lines) + extra_manifest + "\n")
    return buffer.getvalue()


def _upload(user: Any, gallery: Any, data: bytes) -> Any:
    archive = SimpleUploadedFile("batch.zip", data, content_type="application/zip")
    return api_client(user).post(f"/api/v1/galleries/{gallery.pk}/batches/", {"archive": archive},
                                 format="multipart")


def _finished(user: Any, batch_id: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = api_client(user).get(f"/api/v1/batches/{batch_id}/").json()
        return body if body["status"] == "done" else None

    return wait_for(check, timeout=120)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_batch_enrolls_each_photo_once_and_reports_failures(cast, celery_worker) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    archive = _archive()
    response = _upload(cast.admin, gallery, archive)
    assert response.status_code == 202, response.content
    first = _finished(cast.admin, response.json()["id"])
    assert first["total"] == 10
    assert first["counts"] == {"pending": 0, "running": 0, "done": 8, "duplicate": 0, "failed": 2}, first
    assert Face.objects.filter(gallery=gallery).count() == 8
    report = web_client(cast.admin).get(f"/batches/{first['id']}/errors.csv").content.decode()
    assert "photos/scan.jpg,BK-9,not_an_image" in report and "missing_file" in report

    again = _finished(cast.admin, _upload(cast.admin, gallery, archive).json()["id"])
    assert again["counts"]["duplicate"] == 8 and again["counts"]["done"] == 0
    assert Face.objects.filter(gallery=gallery).count() == 8


def test_a_file_that_is_not_a_zip_is_refused(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    response = _upload(cast.admin, gallery, b"PK\x03\x04 broken")
    assert response.status_code == 400 and response.json()["code"] == "not_a_zip"


def test_an_archive_without_a_manifest_is_refused(cast) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.jpg", photos.photo("Colin_Powell", 0))
    response = _upload(cast.admin, GalleryFactory(agency=cast.agency), buffer.getvalue())
    assert response.status_code == 400 and response.json()["code"] == "manifest_missing"


def test_another_agency_cannot_see_or_feed_a_batch(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    assert _upload(cast.other_admin, gallery, _archive()).status_code == 404
    assert _upload(cast.officer, gallery, _archive()).status_code == 403

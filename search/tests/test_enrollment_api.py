"""POST /api/v1/galleries/{id}/faces/ and gallery listing, with real photos and the real model."""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from search.models import Face, Gallery
from tests import photos
from tests.factories import GalleryFactory
from tests.fixtures import api_client


def _upload(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def _enroll(user: Any, gallery: Gallery, data: bytes, reference: str = "BK-1001") -> Any:
    return api_client(user).post(f"/api/v1/galleries/{gallery.pk}/faces/",
                                 {"image": _upload(data), "subject_reference": reference},
                                 format="multipart")


def test_it_enrolls_a_face(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    response = _enroll(cast.admin, gallery, photos.photo("Colin_Powell", 0))
    assert response.status_code == 201, response.content
    body = response.json()
    face = Face.objects.get(pk=body["id"])
    assert body["subject"] == {"id": face.subject_id, "reference": "BK-1001", "display_name": ""}
    assert face.agency == cast.agency and face.gallery == gallery
    assert face.model_name == "Dlib+mirror" and face.detector == "dlib_hog"
    assert len(face.embedding) == 128
    assert face.image.name.endswith(".jpg") and "photo" not in face.image.name


def test_the_same_photo_is_enrolled_once_per_gallery(cast) -> None:
    gallery, other = GalleryFactory(agency=cast.agency), GalleryFactory(agency=cast.agency)
    photo = photos.photo("Colin_Powell", 0)
    first = _enroll(cast.admin, gallery, photo)
    again = _enroll(cast.admin, gallery, photo, reference="BK-2002")  # under another reference
    assert first.status_code == 201 and again.status_code == 409
    assert again.json()["code"] == "already_enrolled" and gallery.name in again.json()["detail"]
    assert Face.objects.filter(gallery=gallery).count() == 1
    assert Face.objects.get(gallery=gallery).source_sha256 == hashlib.sha256(photo).hexdigest()
    assert _enroll(cast.admin, other, photo).status_code == 201  # another gallery may hold it


def test_a_second_photo_joins_the_same_subject(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    first = _enroll(cast.admin, gallery, photos.photo("Tony_Blair", 0)).json()
    second = _enroll(cast.admin, gallery, photos.photo("Tony_Blair", 1)).json()
    assert first["subject"]["id"] == second["subject"]["id"]
    assert Face.objects.filter(subject_id=first["subject"]["id"]).count() == 2


def test_it_refuses_a_non_image_with_a_code(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    response = _enroll(cast.admin, gallery, b"%PDF-1.4 not a photo")
    assert response.status_code == 400
    assert response.json()["code"] == "not_an_image"
    assert "JPEG" in response.json()["detail"]
    assert not Face.objects.exists()


def test_it_refuses_a_photo_without_a_face(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    response = _enroll(cast.admin, gallery, photos.blank_photo())
    assert response.status_code == 422
    assert response.json()["code"] == "no_face"
    assert not Face.objects.exists()


def test_it_refuses_an_oversized_file(cast, settings) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "MAX_UPLOAD_BYTES": 5_000}
    gallery = GalleryFactory(agency=cast.agency)
    response = _enroll(cast.admin, gallery, photos.photo("Colin_Powell", 0))
    assert response.status_code == 413
    assert response.json()["code"] == "image_too_large"


def test_another_agencys_gallery_answers_404(cast) -> None:
    theirs = GalleryFactory(agency=cast.other_agency)
    response = _enroll(cast.admin, theirs, photos.photo("Colin_Powell", 0))
    assert response.status_code == 404
    assert api_client(cast.admin).get(f"/api/v1/galleries/{theirs.pk}/").status_code == 404
    assert not Face.objects.exists()


def test_an_officer_cannot_enroll(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    response = _enroll(cast.officer, gallery, photos.photo("Colin_Powell", 0))
    assert response.status_code == 403
    assert not Face.objects.exists()


def test_the_gallery_list_shows_only_my_agency(cast) -> None:
    mine = GalleryFactory(agency=cast.agency)
    GalleryFactory(agency=cast.other_agency)
    response = api_client(cast.officer).get("/api/v1/galleries/")
    assert [g["id"] for g in response.json()["results"]] == [mine.pk]


def test_an_admin_creates_a_gallery_with_its_legal_basis(cast) -> None:
    response = api_client(cast.admin).post("/api/v1/galleries/", {
        "name": "Warrants 2026", "source": "Court warrant files", "legal_basis": "warrant"})
    assert response.status_code == 201, response.content
    gallery = Gallery.objects.get(pk=response.json()["id"])
    assert gallery.agency == cast.agency and gallery.legal_basis == "warrant"

"""Hostile uploads are refused with a 4xx in the browser, the API and enrollment, before any
worker sees them; nothing is stored."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from search.models import Face, Search
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import api_client, web_client


def _bomb() -> bytes:
    """A 20,000 x 20,000 PNG of one colour: tiny on disk, 400 megapixels once decoded."""
    return photos.encode(Image.new("1", (20_000, 20_000)), "PNG")


def _hundred_megapixels() -> bytes:
    return photos.encode(Image.new("L", (10_000, 10_000)), "PNG")


HOSTILE = {
    "decompression bomb": (_bomb, "too_many_pixels"),
    "truncated jpeg": (lambda: photos.photo("Colin_Powell", 0)[:4000], "corrupt_image"),
    "pdf renamed .jpg": (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF", "not_an_image"),
    "100 megapixels": (_hundred_megapixels, "too_many_pixels"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_search_upload_is_refused(cast, kind: str) -> None:
    make, code = HOSTILE[kind]
    case = assigned_case(cast.agency, cast.officer)
    probe = SimpleUploadedFile("probe.jpg", make(), content_type="image/jpeg")
    response = api_client(cast.officer).post("/api/v1/searches/", {"case": case.pk, "probe": probe},
                                             format="multipart")
    assert 400 <= response.status_code < 500
    assert response.json()["code"] == code
    assert not Search.objects.exists()


@pytest.mark.parametrize("kind", HOSTILE)
def test_an_enrollment_upload_is_refused(cast, kind: str) -> None:
    make, code = HOSTILE[kind]
    gallery = GalleryFactory(agency=cast.agency)
    image = SimpleUploadedFile("face.jpg", make(), content_type="image/jpeg")
    response = api_client(cast.admin).post(f"/api/v1/galleries/{gallery.pk}/faces/",
                                           {"image": image, "subject_reference": "X"},
                                           format="multipart")
    assert 400 <= response.status_code < 500 and response.json()["code"] == code
    assert not Face.objects.exists()


def test_the_browser_form_says_what_went_wrong(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    probe = SimpleUploadedFile("probe.jpg", _bomb(), content_type="image/jpeg")
    response = web_client(cast.officer).post(f"/cases/{case.pk}/searches/", {"probe": probe},
                                             follow=True)
    assert b"far too many pixels" in response.content or b"Resize it" in response.content
    assert not Search.objects.exists()


def test_stored_probes_are_re_encoded_without_metadata(cast) -> None:
    from search.services import searching

    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"
    buffer = io.BytesIO()
    Image.open(io.BytesIO(photos.photo("Colin_Powell", 2))).save(buffer, format="JPEG", exif=exif)
    case = assigned_case(cast.agency, cast.officer)
    search = searching.search_create(case=case, user=cast.officer, probe=buffer.getvalue())
    stored = search.probe.read()
    assert b"SecretCameraMaker" not in stored
    assert not Image.open(io.BytesIO(stored)).getexif()

"""The face pipeline on real photos: what it accepts, what it refuses, and what it finds."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from search.checks import blas_problem, check_dlib_blas
from search.engine import pipeline
from search.engine.pipeline import ImageRejected, Pick
from tests import photos


def _code(data: bytes) -> str:
    with pytest.raises(ImageRejected) as caught:
        pipeline.decode(data)
    return caught.value.code


def test_it_refuses_text_that_is_not_an_image() -> None:
    assert _code(b"this is a text file, not a photo") == "not_an_image"


def test_it_refuses_a_pdf_renamed_to_jpg() -> None:
    assert _code(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF") == "not_an_image"


def test_it_refuses_a_truncated_jpeg() -> None:
    data = photos.photo("Colin_Powell", 0)
    assert _code(data[: len(data) // 2]) == "corrupt_image"


def test_it_refuses_a_gif() -> None:
    assert _code(photos.encode(Image.new("RGB", (64, 64)), "GIF")) == "unsupported_format"


def test_it_refuses_too_many_pixels_before_decoding_them() -> None:
    # 100 megapixels of one colour compresses to a small PNG: a classic decompression bomb.
    bomb = photos.encode(Image.new("L", (10_000, 10_000)), "PNG")
    assert len(bomb) < 1_000_000
    assert _code(bomb) == "too_many_pixels"


def test_it_refuses_a_file_over_the_size_limit(settings) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "MAX_UPLOAD_BYTES": 10_000}
    with pytest.raises(ImageRejected) as caught:
        pipeline.decode(photos.photo("Colin_Powell", 0) + b"\0" * 10_000)
    assert caught.value.code == "image_too_large"
    assert caught.value.status == 413


def test_it_honours_exif_orientation() -> None:
    image = Image.open(io.BytesIO(photos.photo("Tony_Blair", 0))).rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": the stored pixels lie on their side
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    rgb = pipeline.decode(buffer.getvalue())
    assert rgb.shape[:2] == (250, 250)
    assert pipeline.analyze(rgb) is not None


def test_it_finds_and_embeds_one_face() -> None:
    face = pipeline.analyze(pipeline.decode(photos.photo("Colin_Powell", 0)))
    assert face is not None
    assert face.faces_found == 1
    assert face.embedding.shape == (128,)
    assert abs(float(np.linalg.norm(face.embedding)) - 1.0) < 1e-4
    assert face.chip.shape == (150, 150, 3)
    assert 40 < face.box["width"] < 200


def test_it_finds_no_face_in_a_landscape() -> None:
    assert pipeline.analyze(pipeline.decode(photos.blank_photo())) is None


def test_it_searches_the_largest_of_several_faces() -> None:
    rgb = pipeline.decode(photos.two_faces("Tony_Blair", "Serena_Williams"))
    face = pipeline.analyze(rgb, pick=Pick.LARGEST)
    assert face is not None and face.faces_found == 2
    blair = pipeline.analyze(pipeline.decode(photos.photo("Tony_Blair", 1)))
    serena = pipeline.analyze(pipeline.decode(photos.photo("Serena_Williams", 1)))
    assert blair and serena
    assert pipeline.similarity(face.embedding, blair.embedding) > pipeline.similarity(
        face.embedding, serena.embedding)


def test_the_same_person_is_closer_than_another_person() -> None:
    def embed(person: str, index: int) -> np.ndarray:
        face = pipeline.analyze(pipeline.decode(photos.photo(person, index)))
        assert face is not None
        return face.embedding

    same = pipeline.similarity(embed("Hugo_Chavez", 0), embed("Hugo_Chavez", 2))
    different = pipeline.similarity(embed("Hugo_Chavez", 0), embed("Laura_Bush", 0))
    assert same > 0.9 > different


def test_stored_jpegs_carry_no_metadata() -> None:
    rgb = pipeline.decode(photos.photo("Colin_Powell", 0))
    stored = Image.open(io.BytesIO(pipeline.encode_jpeg(rgb)))
    assert not stored.getexif()
    assert "exif" not in stored.info


def test_it_refuses_a_photo_too_small_to_hold_a_face() -> None:
    assert _code(photos.encode(Image.new("RGB", (1, 1)), "PNG")) == "image_too_small"


def test_dlib_runs_on_blas_and_the_deploy_check_says_when_it_does_not() -> None:
    # make build-deps installs OpenBLAS before pip builds dlib; without it embeddings are ~5x slower.
    assert check_dlib_blas() == []
    assert [message.id for message in blas_problem(False)] == ["casebound.W002"]


def test_a_gallery_photo_with_an_uncertain_hog_box_takes_the_cnn_box() -> None:
    uncertain = pipeline.decode(photos.photo("Lleyton_Hewitt", 0))  # HOG scores this face 0.71
    fast, thorough = pipeline.analyze(uncertain), pipeline.analyze(uncertain, thorough=True)
    assert fast is not None and thorough is not None
    assert (fast.detector, thorough.detector) == ("dlib_hog", "dlib_cnn")
    assert fast.box != thorough.box
    assert pipeline.similarity(fast.embedding, thorough.embedding) > 0.9  # the same face
    confident = pipeline.decode(photos.photo("Serena_Williams", 0))  # HOG: 1.42
    kept = pipeline.analyze(confident, thorough=True)
    assert kept is not None and kept.detector == "dlib_hog"


def test_the_cnn_box_of_a_large_photo_is_mapped_back_to_its_pixels() -> None:
    canvas = Image.new("RGB", (1000, 1000), (128, 128, 128))  # the CNN runs on an 800 px copy
    canvas.paste(Image.open(io.BytesIO(photos.photo("Lleyton_Hewitt", 0))), (400, 300))
    face = pipeline.analyze(pipeline.decode(photos.encode(canvas)), thorough=True)
    reference = pipeline.analyze(pipeline.decode(photos.photo("Lleyton_Hewitt", 0)), thorough=True)
    assert face is not None and reference is not None and face.detector == "dlib_cnn"
    # The CNN places boxes on an 8-pixel grid, 10 px here at 0.8 scale; unscaled would be ~100 off.
    assert abs(face.box["x"] - 400 - reference.box["x"]) <= 16
    assert abs(face.box["y"] - 300 - reference.box["y"]) <= 16

"""Faces found in probe photos: group photos, numbering, and a large photo without a face.
The group photo is bundled in fixtures/deepface/ (a deepface test photo), so no shared data is needed."""

from __future__ import annotations

import pytest

from search.engine import pipeline
from tests import photos

SELFIE = photos.FIXTURES.parent / "deepface" / "selfie-many-people.jpg"


def test_a_group_selfie_gives_six_of_its_seven_faces_largest_first() -> None:
    rgb = pipeline.decode(SELFIE.read_bytes())
    face = pipeline.analyze(rgb)
    assert face is not None and face.faces_found == len(face.boxes) >= 6  # HOG alone found 4
    areas = [box["width"] * box["height"] for box in face.boxes]
    assert areas == sorted(areas, reverse=True) and face.face_index == 0
    assert face.box == face.boxes[0]
    last = pipeline.analyze(rgb, face_index=len(face.boxes) - 1)
    assert last is not None and last.box == face.boxes[-1]
    assert pipeline.similarity(face.embedding, last.embedding) < 0.9  # two different people


def test_a_face_index_beyond_the_faces_is_refused_with_the_faces() -> None:
    rgb = pipeline.decode(SELFIE.read_bytes())
    with pytest.raises(pipeline.FaceIndexOutOfRange) as caught:
        pipeline.analyze(rgb, face_index=40)
    assert caught.value.code == "face_index_out_of_range" and len(caught.value.boxes) >= 6


def test_a_large_photo_without_a_face_is_looked_at_by_the_cnn_and_gives_none() -> None:
    rgb = pipeline.decode(photos.blank_photo((2000, 2000)))
    stages: list[str] = []
    assert pipeline.analyze(rgb, on_stage=stages.append) is None
    assert stages == []  # nothing to embed

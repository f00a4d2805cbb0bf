"""The test-time augmentation bench (search/bench/augmentation.py) on the bundled LFW photos: its
components rebuild the production vector exactly, a shifted chip is the chip moved, and a
combination is measured as evaluate_identification measures a cache."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from search.bench import augmentation
from search.bench.augmentation import Component
from search.bench.identification import Split, lfw_split, split_load
from search.engine import pipeline
from search.engine.pipeline import Pick
from tests import photos


@pytest.fixture(scope="module")
def lfw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three photos of each fixture person in LFW's layout (the first is the gallery photo)."""
    root = tmp_path_factory.mktemp("lfw")
    for name in photos.people():
        (root / name).mkdir()
        for index in range(3):
            shutil.copy(photos.photo_path(name, index), root / name / f"{name}_{index + 1:04d}.jpg")
    return root


@pytest.fixture(scope="module")
def components(lfw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("components")
    augmentation.embed_components(lfw, [*augmentation.pair(), *augmentation.pair(0.35)], folder)
    return folder


def test_the_mirror_pair_is_the_production_vector(lfw: Path, components: Path) -> None:
    gallery, _, probes, _ = lfw_split(lfw)
    expected = []
    for row, path in enumerate(gallery + probes):
        face = pipeline.analyze(pipeline.decode(path.read_bytes()), Pick.CENTRE,
                                thorough=row < len(gallery))
        assert face is not None
        expected.append(face.embedding)
    combined = augmentation.combine(components, [augmentation.pair()])
    np.testing.assert_allclose(combined, np.array(expected), atol=1e-6)


def test_another_padding_makes_another_vector(components: Path) -> None:
    base = augmentation.combine(components, [augmentation.pair()])
    both = augmentation.combine(components, [augmentation.pair(), augmentation.pair(0.35)])
    cosines = (base * both).sum(axis=1)
    assert np.all(cosines < 0.9999) and np.all(cosines > 0.9)
    np.testing.assert_allclose(np.linalg.norm(both, axis=1), 1, atol=1e-6)


def test_a_shifted_chip_is_the_chip_moved() -> None:
    rgb = pipeline.decode(photos.photo(photos.people()[0], 0))
    shape = augmentation.landmarks(rgb, thorough=True)
    base = augmentation.component_chip(rgb, shape, Component()).astype(int)
    moved = augmentation.component_chip(rgb, shape, Component(shift=(3, -2))).astype(int)
    # moved[y, x] shows base[y - 2, x + 3]: at most one grey level apart (rounding).
    assert np.abs(moved[2:, :-3] - base[:-2, 3:]).max() <= 1
    assert np.abs(moved - base).mean() > 1  # and it did move


def test_a_combination_is_measured_like_a_cache(lfw: Path, components: Path) -> None:
    gallery, gallery_labels, probes, probe_labels = lfw_split(lfw)
    like = Split(np.zeros((len(gallery), 128), np.float32), np.array(gallery_labels),
                              np.zeros((len(probes), 128), np.float32), np.array(probe_labels))
    vectors = augmentation.combine(components, [augmentation.pair(), augmentation.pair(0.35)])
    raw, normalized = augmentation.measure(augmentation.split_of(vectors, like, "Dlib+scales"))
    assert raw.probes == 2 * len(gallery) and raw.missing_faces == 0
    assert raw.rank1 >= 0.9 and normalized.rank1 >= 0.9  # the fixture people are easy to tell apart


def test_the_command_embeds_what_is_missing_and_writes_a_cache(
        lfw: Path, components: Path, tmp_path: Path) -> None:
    out, cache = io.StringIO(), tmp_path / "scales.npz"
    call_command("evaluate_augmentation", components=components, images=lfw,
                 only=["0.25 + its 4 diagonal shifts by 3 px", "paddings 0.25 + 0.35"],
                 write_cache=cache, recipe="Dlib+scales", stdout=out, stderr=io.StringIO())
    assert (components / "p25s+3-3.npy").is_file()  # embedded on the way
    rows = [line for line in out.getvalue().splitlines() if line.startswith("| paddings 0.25 + 0.35")]
    assert rows and rows[0].split(" | ")[1] == "4"  # embeddings per face
    split = split_load(cache)
    assert split.recipe == "Dlib+scales" and split.missing == 0
    expected = augmentation.combine(components, [augmentation.pair(), augmentation.pair(0.35)])
    np.testing.assert_array_equal(np.concatenate([split.gallery, split.probes]), expected)


def test_the_command_says_where_the_photos_are_missing(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--images must be the LFW folder"):
        call_command("evaluate_augmentation", components=tmp_path, images=tmp_path / "none")

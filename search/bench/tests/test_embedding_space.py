"""The model of real face embeddings that benchmark_search draws its galleries from."""

from __future__ import annotations

import numpy as np

from search.bench.embedding_space import EmbeddingSpace, describe
from search.bench.evaluation import embed_file
from tests import photos


def _sample(space: EmbeddingSpace, people: int, per_person: int, seed: int
            ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(people), per_person)
    return space.photos(rng, space.people(rng, people)[labels]), labels


def test_fitting_recovers_the_space_it_is_given() -> None:
    """Photos drawn from a known space, fitted again, give photos with the same figures."""
    truth = EmbeddingSpace.load()
    vectors, labels = _sample(truth, 3000, 3, seed=2)
    fitted = EmbeddingSpace.fit(vectors, labels)
    expected, got = describe(*_sample(truth, 3000, 3, 3)), describe(*_sample(fitted, 3000, 3, 3))
    for key in ("same_person_cos_mean", "different_people_cos_mean", "different_people_cos_std"):
        assert abs(expected[key] - got[key]) < 0.01, (key, expected, got)
    assert abs(expected["effective_dimensions"] - got["effective_dimensions"]) < 2


def test_the_shipped_space_looks_like_the_real_fixture_faces() -> None:
    """Photos of the 15 bundled people against synthetic photos drawn the same way."""
    names = photos.people()
    labels = np.repeat(np.arange(len(names)), 3)
    real = np.stack([embed_file(photos.photo_path(name, i)) for name in names for i in range(3)])
    synthetic, _ = _sample(EmbeddingSpace.load(), len(names) * 40, 3, seed=4)
    real_figures = describe(real, labels)
    synthetic_figures = describe(synthetic, np.repeat(np.arange(len(names) * 40), 3))
    assert abs(real_figures["same_person_cos_mean"] - synthetic_figures["same_person_cos_mean"]) < 0.03
    assert abs(real_figures["different_people_cos_mean"]
               - synthetic_figures["different_people_cos_mean"]) < 0.04

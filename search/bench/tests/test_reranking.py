"""The re-rankings measured beyond S-norm (search/bench/reranking.py), replayed by
search/bench/normalization.py: each non-mated search's best score equals the one computed one
search at a time, from scratch, on a gallery that never held the person (real embeddings of the
fixture photos)."""

from __future__ import annotations

import numpy as np
import pytest

from search.bench import normalization
from search.bench.identification import Split
from search.engine import pipeline
from tests import photos


def _embed(person: str, index: int, thorough: bool = False) -> np.ndarray:
    face = pipeline.analyze(pipeline.decode(photos.photo(person, index)), thorough=thorough)
    assert face is not None
    return face.embedding.astype(np.float32)


@pytest.fixture(scope="module")
def split() -> Split:
    """Photo 0 of each fixture person enrolled, photos 1 and 2 the probes."""
    people = photos.people()
    gallery = np.array([_embed(p, 0, thorough=True) for p in people])
    probes = np.array([_embed(p, i) for p in people for i in (1, 2)])
    return Split(gallery, np.arange(len(people)), probes, np.repeat(np.arange(len(people)), 2))


def _searches(split: Split) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each non-mated search: the probe and the gallery without its person (every face is
    re-ranked on this small gallery, so the candidates are the whole remaining gallery)."""
    return [(probe, split.gallery[split.gallery_labels != label].astype(np.float64))
            for probe, label in zip(split.probes, split.probe_labels, strict=True)]


def _tops(split: Split, variant: normalization.Variant) -> np.ndarray:
    return normalization.nonmated_top_scores(split.gallery, split.gallery_labels, split.probes,
                                             split.probe_labels, variant)


def test_inverted_softmax_banks_only_the_faces_that_are_enrolled(split: Split) -> None:
    beta = 100.0
    expected = []
    for probe, gallery in _searches(split):
        among = gallery @ gallery.T
        np.fill_diagonal(among, -np.inf)
        bank = np.log(np.exp(beta * (among - 1)).sum(1))
        expected.append((beta * (gallery @ probe) - bank).max())
    got = _tops(split, normalization.Variant("IS", mode="isoftmax", beta=beta))
    # Scores are in units of beta * cosine: 1e-3 is a float32 cosine's rounding, while a face
    # left out of the bank (or not) moves a score by far more.
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-3)


def test_mutual_rank_counts_the_probe_among_each_faces_own_neighbours(split: Split) -> None:
    expected = []
    for probe, gallery in _searches(split):
        sims = gallery @ probe
        among = gallery @ gallery.T
        np.fill_diagonal(among, -np.inf)
        forward = np.array([(sims > s).sum() for s in sims])
        reverse = np.array([(among[i] > s).sum() for i, s in enumerate(sims)])
        expected.append((-(np.log1p(forward) + np.log1p(reverse)) + 1e-3 * sims).max())
    got = _tops(split, normalization.Variant("MR", mode="mutual_rank"))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def _k_reciprocal(probe: np.ndarray, gallery: np.ndarray, k1: int, k2: int, lam: float) -> np.ndarray:
    """Zhong et al.'s distance of the probe to each face, with sets, one search at a time."""
    items = np.vstack([probe, gallery])
    distances = np.sqrt(np.clip(2 - 2 * items @ items.T, 0, None))
    nearest = [set(np.argsort(row)[:k1 + 1]) for row in distances]
    weights = np.zeros_like(distances)
    for i, neighbours in enumerate(nearest):
        reciprocal = [j for j in neighbours if i in nearest[j]]
        weights[i, reciprocal] = np.exp(-distances[i, reciprocal])
        weights[i] /= weights[i].sum()
    weights = np.array([weights[np.argsort(row)[:k2]].mean(0) for row in distances])
    shared = np.minimum(weights[0], weights[1:]).sum(1)
    return (1 - lam) * (1 - shared / (2 - shared)) + lam * distances[0, 1:]


def test_k_reciprocal_reranking_is_zhongs_distance(split: Split) -> None:
    k1, k2, lam = 3, 2, 0.3  # small sets on a 14-face gallery, so reciprocity matters
    expected = [-_k_reciprocal(probe.astype(np.float64), gallery, k1, k2, lam).min()
                for probe, gallery in _searches(split)]
    got = _tops(split, normalization.Variant("KR", mode="k_reciprocal", k1=k1, k2=k2, lam=lam))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_csls_subtracts_both_cohorts_means(split: Split) -> None:
    k = 4
    expected = []
    for probe, gallery in _searches(split):
        sims = gallery @ probe
        among = gallery @ gallery.T
        np.fill_diagonal(among, -np.inf)
        face_mean = np.sort(among, 1)[:, -k:].mean(1)
        probe_mean = np.array([np.sort(np.delete(sims, i))[-k:].mean() for i in range(len(sims))])
        expected.append((2 * sims - probe_mean - face_mean).max())
    got = _tops(split, normalization.Variant("CSLS", mode="csls", k=k))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_the_ceiling_is_the_share_of_mates_among_the_reranked(split: Split) -> None:
    # The first ten probes labelled as the next person: their "mates" mostly rank far down.
    labels = split.probe_labels.copy()
    labels[:10] = (labels[:10] + 1) % len(split.gallery)
    order = np.argsort(labels, kind="stable")
    split = Split(split.gallery, split.gallery_labels, split.probes[order], labels[order])
    rerank = 2
    raw = split.probes @ split.gallery.T
    mate = raw[np.arange(len(raw)), split.probe_labels]
    within = ((raw > mate[:, None]).sum(1) < rerank).mean()
    assert 0.5 < within < 1
    for mode in ("s", "mutual_rank"):
        figures = normalization.measure(split, normalization.Variant("x", mode=mode, k=1,
                                                                     rerank=rerank))
        assert figures.reranked_mates == pytest.approx(within)
        assert figures.rank1 <= figures.reranked_mates


def test_single_comparisons_are_refused_for_a_search_wide_score(split: Split) -> None:
    with pytest.raises(ValueError, match="scores a search's candidates"):
        normalization.nonmated_comparisons(split, normalization.Variant("KR", mode="k_reciprocal"))

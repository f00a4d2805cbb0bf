"""Score normalization measured on the LFW identification protocol, from cached embeddings.

Production ranks the agency's faces by raw cosine, takes the best `rerank` of them and orders those
by a normalized score (search/engine/scoring.py). This module replays exactly that on the split
of `identification.py` for several variants, so the figures in docs/benchmarks.md ("Score
normalization") come from the same code path as `evaluate_identification` prints.

What is exact and what is approximated:
- Non-mated searches leave the person's gallery photo out, as `identify` does: the probe's cohort
  is taken from the raw candidates *without* the mate, and every gallery face's cohort is
  recomputed without the mate where the mate was in it (top k+1 kept for that).
- The probe's cohort comes from the re-ranked candidates only (production sees no more); with
  k < rerank it is the probe's exact top k among other people.
- Centering uses the mean of the whole gallery, mate included (1 photo of 5,749: negligible).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from search.bench import reranking
from search.bench.identification import CANDIDATES, Split
from search.engine import scoring

CHUNK = 512  # probes per block: bounds the (probes x rerank x k) arrays to ~100 MB


@dataclass(frozen=True)
class Variant:
    name: str
    center: bool = False
    whiten: float = 0.0  # 0: none; else the power of the eigenvalues removed (0.5: full whitening)
    mode: str = "raw"  # raw | z (face side) | t (probe side) | s (both) | reranking.MODES
    k: int = scoring.COHORT_SIZE
    rerank: int = 200
    beta: float = 100.0  # inverted softmax's inverse temperature
    k1: int = 20  # k-reciprocal: neighbours, expansion, weight of the original distance
    k2: int = 6
    lam: float = 0.3

    @property
    def face_cohort(self) -> bool:
        return self.mode in ("z", "s", "csls")

    @property
    def probe_cohort(self) -> bool:
        return self.mode in ("t", "s", "csls")


@dataclass
class Figures:
    variant: Variant
    rank1: float
    rank10: float
    reranked_mates: float  # mates among the re-ranked candidates: no re-ranking ranks more first
    fnir_at_fpir: dict[str, tuple[float, float]] = field(default_factory=dict)


def _unit(x: NDArray[Any]) -> NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norms == 0, 1, norms)).astype(np.float32)


def transform(split: Split, variant: Variant) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Gallery and probes in the space the variant scores in (fitted on the gallery only)."""
    gallery, probes = split.gallery.astype(np.float64), split.probes.astype(np.float64)
    if not (variant.center or variant.whiten):
        return split.gallery, split.probes
    mean = gallery.mean(axis=0)
    gallery, probes = gallery - mean, probes - mean
    if variant.whiten:
        values, vectors = np.linalg.eigh(np.cov(gallery, rowvar=False))
        scale = vectors / np.clip(values, 1e-8, None) ** variant.whiten
        gallery, probes = gallery @ scale, probes @ scale
    return _unit(gallery), _unit(probes)


def _gallery_cohorts(gallery: NDArray[np.float32], k: int) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Each gallery face's k+1 nearest other faces (indices, similarities), best first."""
    similarities = gallery @ gallery.T
    np.fill_diagonal(similarities, -np.inf)
    top = np.argpartition(-similarities, k, axis=1)[:, :k + 1]
    values = np.take_along_axis(similarities, top, axis=1)
    order = np.argsort(-values, axis=1)
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(values, order, 1).astype(np.float64)


def _stats(total: NDArray[Any], squares: NDArray[Any], k: int) -> tuple[NDArray[Any], NDArray[Any]]:
    mean = total / k
    return mean, np.sqrt(np.clip(squares / k - mean ** 2, 0, None))


def _face_stats(cohort_ids: NDArray[np.int64], cohort_sims: NDArray[np.float64],
                candidates: NDArray[np.int64], left_out: NDArray[np.int64] | None,
                k: int) -> tuple[NDArray[Any], NDArray[Any]]:
    """Cohort statistics of each candidate face; with `left_out` (one gallery index per probe),
    as if that face had never been enrolled: its similarity is replaced by the (k+1)-th."""
    sims = cohort_sims[candidates]  # probes x rerank x (k+1)
    first, extra = sims[..., :k], sims[..., k]
    if left_out is None:
        return _stats(first.sum(-1), (first ** 2).sum(-1), k)
    hit = cohort_ids[candidates][..., :k] == left_out[:, None, None]
    removed = (first * hit).sum(-1)
    had = hit.any(-1)
    total = first.sum(-1) - removed + np.where(had, extra, 0)
    squares = (first ** 2).sum(-1) - removed ** 2 + np.where(had, extra ** 2, 0)
    return _stats(total, squares, k)


def _probe_stats(sims: NDArray[Any], k: int) -> tuple[NDArray[Any], NDArray[Any]]:
    """For each candidate (a column, in any order), the probe's top k among the *other*
    candidates: the top k+1 of the row without the candidate itself."""
    ordered = -np.sort(-sims, axis=1)[:, :k + 1]
    total_k1, squares_k1 = ordered.sum(1, keepdims=True), (ordered ** 2).sum(1, keepdims=True)
    kth_plus = ordered[:, k:k + 1]
    inside = sims >= kth_plus  # the candidate is among the top k+1 (ties: counted inside)
    total = np.where(inside, total_k1 - sims, total_k1 - kth_plus)
    squares = np.where(inside, squares_k1 - sims ** 2, squares_k1 - kth_plus ** 2)
    return _stats(total, squares, k)


def _normalized(sims: NDArray[Any], probe: tuple[NDArray[Any], NDArray[Any]],
                face: tuple[NDArray[Any], NDArray[Any]], mode: str) -> NDArray[Any]:
    floor = scoring.STD_FLOOR
    if mode == "raw":
        return sims
    if mode == "z":
        return (sims - face[0]) / np.maximum(face[1], floor)
    if mode == "t":
        return (sims - probe[0]) / np.maximum(probe[1], floor)
    if mode == "csls":
        return reranking.csls(sims, probe, face)
    return scoring.s_norm(sims, probe[0], probe[1], face[0], face[1])


def _reranked(sims: NDArray[Any], ids: NDArray[np.int64], left_out: NDArray[np.int64] | None,
              probes: NDArray[np.float32], gallery: reranking.Gallery, variant: Variant) -> NDArray[Any]:
    """The scores of `reranking` that need more than cohort statistics."""
    if variant.mode in ("isoftmax", "dis"):
        return reranking.inverted_softmax(sims, ids, left_out, gallery, variant.beta,
                                          dynamic=variant.mode == "dis")
    if variant.mode == "mutual_rank":
        return reranking.mutual_rank(sims, ids, left_out, gallery)
    return reranking.k_reciprocal(probes, ids, gallery, variant.k1, variant.k2, variant.lam)


@dataclass
class _Scored:
    mate_rank: NDArray[np.float64]  # inf when the mate is not among the re-ranked candidates
    mate_score: NDArray[np.float64]
    nonmated_top: NDArray[np.float64]


def _fitted(variant: Variant, gallery_size: int) -> Variant:
    """The variant with K and k cut to what a gallery this small allows (a toy gallery in tests):
    a non-mated search sees one face fewer, and the cohorts need one more to leave one out."""
    rerank = min(variant.rerank, gallery_size - 1)
    return replace(variant, rerank=rerank, k=max(1, min(variant.k, rerank - 1, gallery_size - 2)))


def _mates(split: Split) -> NDArray[np.int64]:
    """Each probe's gallery row, -1 when its person is not in this gallery (a drawn one)."""
    at = np.clip(np.searchsorted(split.gallery_labels, split.probe_labels), 0, len(split.gallery) - 1)
    return np.where(split.gallery_labels[at] == split.probe_labels, at, -1)


def _score(split: Split, variant: Variant) -> _Scored:
    variant = _fitted(variant, len(split.gallery))
    gallery, probes = transform(split, variant)
    cohort: Any = _gallery_cohorts(gallery, variant.k) if variant.face_cohort else None
    if variant.mode in reranking.MODES and not variant.face_cohort:
        cohort = reranking.prepare(gallery, variant.beta, variant.mode == "mutual_rank")
    mate = _mates(split)
    parts = [_score_block(split, gallery, probes, cohort, mate, variant, slice(i, i + CHUNK))
             for i in range(0, len(probes), CHUNK)]
    return _Scored(*(np.concatenate([p[j] for p in parts]) for j in range(3)))


def _score_block(split: Split, gallery: NDArray[np.float32], probes: NDArray[np.float32],
                 cohort: Any, mate: NDArray[np.int64], variant: Variant,
                 rows: slice) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    raw = split.probes[rows] @ split.gallery.T  # the vector search always ranks by raw cosine
    mates = mate[rows]
    top = np.argpartition(-raw, variant.rerank, axis=1)[:, :variant.rerank + 1]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(raw, top, 1), 1), 1)
    is_mate = top == mates[:, None]
    mated_ids = top[:, :variant.rerank]
    # Non-mated: the mate is not enrolled, so the raw top K comes from the K+1 without it.
    keep = ~is_mate
    keep[keep.sum(1) > variant.rerank, variant.rerank] = False
    nonmated_ids = top[keep].reshape(len(top), variant.rerank)
    space = probes[rows]
    results = []
    for ids, left_out in ((mated_ids, None), (nonmated_ids, mates)):
        sims = np.einsum("pd,pkd->pk", space, gallery[ids]).astype(np.float64)
        if isinstance(cohort, reranking.Gallery):
            results.append(_reranked(sims, ids, left_out, space, cohort, variant))
            continue
        probe = _probe_stats(sims, variant.k) if variant.probe_cohort else (sims, sims)
        face = (_face_stats(cohort[0], cohort[1], ids, left_out, variant.k)
                if cohort is not None else (sims, sims))
        results.append(_normalized(sims, probe, face, variant.mode))
    mated, nonmated = results
    found = (mated_ids == mates[:, None])
    mate_score = np.where(found.any(1), (mated * found).sum(1), -np.inf)
    rank = np.where(found.any(1), (mated > mate_score[:, None]).sum(1), np.inf)
    return rank, mate_score, nonmated.max(1)


def measure(split: Split, variant: Variant) -> Figures:
    """Rank-1/10 and FNIR at FPIR 1% and 0.1% of one variant, re-ranking the raw top K."""
    scored = _score(split, variant)
    figures = Figures(variant, rank1=float((scored.mate_rank == 0).mean()),
                      rank10=float((scored.mate_rank < 10).mean()),
                      reranked_mates=float(np.isfinite(scored.mate_rank).mean()))
    for label, fpir in (("1%", 0.01), ("0.1%", 0.001)):
        threshold = float(np.quantile(scored.nonmated_top, 1 - fpir))
        missed = (scored.mate_score < threshold) | (scored.mate_rank >= CANDIDATES)
        figures.fnir_at_fpir[label] = (threshold, float(missed.mean()))
    return figures


BASELINE = Variant("raw cosine", mode="raw")
PRODUCTION = Variant(f"adaptive S-norm, k={scoring.COHORT_SIZE}", mode="s")


def nonmated_top_scores(gallery: NDArray[np.float32], gallery_labels: NDArray[np.int64],
                        probes: NDArray[np.float32], probe_labels: NDArray[np.int64],
                        variant: Variant = PRODUCTION) -> NDArray[np.float64]:
    """The best normalized score of each non-mated search of the LFW protocol (the person's
    gallery photo left out), under the score the search shows: what `calibrate` should fit."""
    split = Split(gallery, np.asarray(gallery_labels), probes, np.asarray(probe_labels))
    return _score(split, variant).nonmated_top


LEFT_OUT = -2.0  # below every cosine: a left-out face never enters a cohort
COMPARISON_CHUNK = 24  # probes per block of `nonmated_comparisons`: (24 x gallery x k) arrays


def nonmated_comparisons(split: Split, variant: Variant = PRODUCTION) -> NDArray[np.float64]:
    """Every probe against every gallery face of another person, under the variant's score: the
    per-comparison scores the calibration's tail is fitted on.

    As in the non-mated searches of `_score`, the probe's own gallery photo is left out: of the
    probe's cohort (its top k among the other faces) and of every face's cohort. Each face's
    cohort is the one within this gallery, as an agency's cohorts are within its own.
    """
    if variant.mode not in ("raw", "z", "t", "s", "csls"):
        raise ValueError(f"{variant.mode} scores a search's candidates, not single comparisons")
    variant = _fitted(variant, len(split.gallery))
    gallery, probes = transform(split, variant)
    cohort = _gallery_cohorts(gallery, variant.k) if variant.face_cohort else None
    mate, columns = _mates(split), np.arange(len(gallery))
    parts = []
    for start in range(0, len(probes), COMPARISON_CHUNK):
        mates = mate[start:start + COMPARISON_CHUNK]
        sims = (probes[start:start + COMPARISON_CHUNK] @ gallery.T).astype(np.float64)
        own = columns[None, :] == mates[:, None]
        sims[own] = LEFT_OUT
        ids = np.broadcast_to(columns, sims.shape)
        probe = _probe_stats(sims, variant.k) if variant.probe_cohort else (sims, sims)
        face = (_face_stats(cohort[0], cohort[1], ids, mates, variant.k)
                if cohort is not None else (sims, sims))
        parts.append(_normalized(sims, probe, face, variant.mode)[~own])
    return np.concatenate(parts)


def cohort_prior(gallery: NDArray[np.float32], k: int = scoring.COHORT_SIZE) -> tuple[float, float]:
    """The typical face cohort of a gallery (median mean, median std of the faces' top k), as
    an agency's CohortState keeps its own."""
    k = max(1, min(k, len(gallery) - 2))
    sims = _gallery_cohorts(gallery, k)[1][:, :k]
    means, stds = _stats(sims.sum(1), (sims ** 2).sum(1), k)
    return float(np.median(means)), max(float(np.median(stds)), scoring.STD_FLOOR)


def distributions(split: Split) -> dict[str, dict[str, NDArray[np.float64]]]:
    """Mated scores (the true match's) and non-mated top scores, by raw cosine and by the
    production score: what docs/img/score-distributions.png draws."""
    shown = {}
    for name, variant in (("raw cosine", BASELINE), ("adaptive S-norm", PRODUCTION)):
        scored = _score(split, variant)
        shown[name] = {"mated": scored.mate_score[np.isfinite(scored.mate_score)],
                       "non-mated": scored.nonmated_top}
    return shown


VARIANTS = (
    BASELINE,
    Variant("centered on the gallery mean", center=True),
    Variant("centered + whitened (power 0.5)", center=True, whiten=0.5),
    Variant("centered + half-whitened (power 0.25)", center=True, whiten=0.25),
    Variant("Z-norm (face side), k=50", mode="z", k=50),
    Variant("T-norm (probe side), k=50", mode="t", k=50),
    Variant("adaptive S-norm, k=10", mode="s", k=10),
    Variant("adaptive S-norm, k=25", mode="s", k=25),
    Variant("adaptive S-norm, k=50", mode="s", k=50),
    Variant("adaptive S-norm, k=100", mode="s", k=100),
    Variant("adaptive S-norm, k=199 (all re-ranked)", mode="s", k=199),
    Variant("adaptive S-norm, k=50, re-rank 100", mode="s", k=50, rerank=100),
    Variant("adaptive S-norm, k=50, re-rank 400", mode="s", k=50, rerank=400),
    Variant("centered + adaptive S-norm, k=50", center=True, mode="s", k=50),
    Variant("half-whitened (0.25) + adaptive S-norm, k=50", center=True, whiten=0.25, mode="s"),
    # Beyond S-norm (search/bench/reranking.py), for the rank-1 goal:
    Variant("CSLS, k=50", mode="csls", k=50),
    Variant("CSLS, k=25", mode="csls", k=25),
    Variant("inverted softmax, gallery as query bank, beta=100", mode="isoftmax"),
    Variant("dynamic inverted softmax (QB-Norm), beta=100", mode="dis"),
    Variant("mutual rank (forward and reverse)", mode="mutual_rank"),
    Variant("k-reciprocal, k1=20, k2=6, lambda=0.3", mode="k_reciprocal"),
    Variant("k-reciprocal, k1=20, k2=6, lambda=0.9", mode="k_reciprocal", lam=0.9),
)


def compare(split: Split, variants: tuple[Variant, ...] = VARIANTS) -> list[Figures]:
    """Every variant on one split: the table of docs/benchmarks.md, "Score normalization"."""
    return [measure(split, variant) for variant in variants]

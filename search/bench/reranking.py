"""Re-ranking candidates beyond cohort normalization, measured for issue #16's rank-1 goal.

Each score here re-orders a search's raw top K with what an agency could keep per face at
enrollment, as the cohort statistics are kept (search/engine/scoring.py), and was measured against
the shipped adaptive S-norm on the LFW protocol (docs/benchmarks.md, "Beyond S-norm"):

- CSLS (Conneau et al. 2018): 2s - mean_probe - mean_face, S-norm without the standard deviations.
- Inverted softmax with the gallery as the query bank (QB-Norm, Bogolin et al. 2022): each face's
  similarity divided by the sum of exp(beta * similarity) over the other gallery faces; "dynamic"
  applies it only when the probe's raw first candidate is in the activation set (the faces that
  are some gallery face's nearest neighbour), as dynamic inverted softmax does.
- Mutual rank (after mutual proximity, Schnitzer et al. 2012): the candidate's rank in the probe's
  list and the probe's rank among the candidate's own neighbours (from its stored neighbour
  similarities), added on a log scale.
- k-reciprocal re-ranking (Zhong et al. 2017) within the probe and its K candidates: Jaccard
  distance of the weighted k-reciprocal neighbour sets, with local query expansion, blended with
  the original distance.

Non-mated searches leave the person's gallery face out (`left_out`, one gallery row per probe,
-1 when none): out of the candidates (the caller's job) and out of each face's stored figures
(here), as in search/bench/normalization.py. One approximation: dynamic inverted softmax's
activation set is the whole gallery's, the left-out face included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

MODES = ("csls", "isoftmax", "dis", "mutual_rank", "k_reciprocal")
NEIGHBOURS = 200  # each face's stored neighbour similarities, for the reverse rank
KR_CHUNK = 64  # probes at once in k-reciprocal: (64 x (K+1) x (K+1)) arrays

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Gallery:
    """What an agency would keep per face at enrollment for these scores."""

    vectors: NDArray[np.float32]
    log_bank: Floats  # log sum over the other faces of exp(beta * (similarity - 1))
    activated: NDArray[np.bool_]  # some other face's nearest neighbour
    neighbours: Floats  # the NEIGHBOURS best similarities to other faces, best first


def prepare(gallery: NDArray[np.float32], beta: float, need_neighbours: bool) -> Gallery:
    """The per-face figures of a gallery (the whole gallery: the mate is left out later)."""
    similarities = (gallery @ gallery.T).astype(np.float64)
    np.fill_diagonal(similarities, -np.inf)
    log_bank = np.log(np.exp(beta * (similarities - 1)).sum(1))
    activated = np.zeros(len(gallery), bool)
    activated[np.unique(similarities.argmax(1))] = True
    size = min(NEIGHBOURS, len(gallery) - 1)
    neighbours = (-np.sort(-similarities, 1)[:, :size] if need_neighbours
                  else np.empty((len(gallery), 0)))
    return Gallery(gallery, log_bank, activated, neighbours)


def _to_left_out(context: Gallery, ids: NDArray[np.int64], left_out: NDArray[np.int64] | None) -> Floats:
    """Each candidate's similarity to the probe's left-out face (-inf when nothing is left out)."""
    if left_out is None:
        return np.full(ids.shape, -np.inf)
    sims = np.einsum("pkd,pd->pk", context.vectors[ids], context.vectors[np.maximum(left_out, 0)])
    return np.where(left_out[:, None] >= 0, sims.astype(np.float64), -np.inf)


def inverted_softmax(sims: Floats, ids: NDArray[np.int64], left_out: NDArray[np.int64] | None,
                     context: Gallery, beta: float, dynamic: bool) -> Floats:
    """beta * s - log(bank sum of the face), the bank without the left-out face."""
    gone = np.exp(beta * (_to_left_out(context, ids, left_out) - 1))
    bank = np.log(np.clip(np.exp(context.log_bank[ids]) - gone, 1e-300, None))
    scores = beta * sims - bank
    if not dynamic:
        return scores
    first = ids[np.arange(len(ids)), sims.argmax(1)]
    return np.where(context.activated[first][:, None], scores, beta * sims)


def mutual_rank(sims: Floats, ids: NDArray[np.int64], left_out: NDArray[np.int64] | None,
                context: Gallery) -> Floats:
    """-(log(1 + forward rank) + log(1 + reverse rank)), plus a tie-breaking sliver of s."""
    forward = (sims[:, None, :] > sims[:, :, None]).sum(2)
    reverse = np.empty(sims.shape)
    for row in range(len(sims)):  # probes x K x NEIGHBOURS at once would not fit in memory
        reverse[row] = (context.neighbours[ids[row]] > sims[row, :, None]).sum(1)
    reverse -= _to_left_out(context, ids, left_out) > sims
    return -(np.log1p(forward) + np.log1p(reverse)) + 1e-3 * sims


def _reciprocal_weights(distances: Floats, k1: int) -> Floats:
    """Zhong's V: exp(-d) over each item's k1-reciprocal neighbours, rows summing to 1."""
    order = np.argsort(distances, axis=2)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(order.shape[2]), order.shape), 2)
    forward = rank <= k1
    weights = np.where(forward & forward.transpose(0, 2, 1), np.exp(-distances), 0.0)
    return weights / weights.sum(2, keepdims=True)


def k_reciprocal(probes: NDArray[np.float32], ids: NDArray[np.int64], context: Gallery,
                 k1: int, k2: int, lam: float) -> Floats:
    """-( (1 - lam) * Jaccard distance + lam * original distance ), probe against candidates."""
    out = np.empty(ids.shape)
    for start in range(0, len(ids), KR_CHUNK):
        rows = slice(start, start + KR_CHUNK)
        items = np.concatenate([probes[rows, None, :], context.vectors[ids[rows]]], 1)
        # In float64: an item's float32 distance to itself would be ~4e-4, not 0.
        items = items.astype(np.float64)
        cosines = np.einsum("bnd,bmd->bnm", items, items)
        distances = np.sqrt(np.clip(2 - 2 * cosines, 0, None))
        weights = _reciprocal_weights(distances, k1)
        if k2 > 1:  # local query expansion: the mean of the k2 nearest items' weights
            nearest = np.argsort(distances, axis=2)[:, :, :k2]
            weights = np.stack([w[n].mean(1) for w, n in zip(weights, nearest, strict=True)])
        shared = np.minimum(weights[:, :1, :], weights[:, 1:, :]).sum(2)
        jaccard = 1 - shared / (2 - shared)
        out[rows] = -((1 - lam) * jaccard + lam * distances[:, 0, 1:])
    return out


def csls(sims: Floats, probe: tuple[Any, Any], face: tuple[Any, Any]) -> Floats:
    """Cross-domain similarity local scaling: 2s minus both cohorts' means."""
    return np.asarray(2 * sims - probe[0] - face[0], dtype=np.float64)

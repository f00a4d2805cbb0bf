"""Fitting the score calibration on LFW's non-mated searches, and measuring how well it holds.

Non-mated comparisons: every probe against every gallery face except its own person's, i.e. the
comparisons of a search for someone who is not enrolled (the identification protocol,
search/bench/identification.py). The table is the tail of their scores (search.engine.calibration).

Calibration error: fit on the people with an even index, then search for the odd people's probes
(never seen by the fit) in galleries of several sizes drawn from LFW's 5,749; at the score the
table gives for a target false-match rate, count how many of those searches reach it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from search.engine import calibration

SIZES = (500, 1000, 2000, 5749)
TARGETS = (0.01, 0.001)
SEED = 16
DRAWS = 8  # galleries drawn per size smaller than the whole: one draw alone is too noisy


@dataclass(frozen=True)
class Protocol:
    gallery: NDArray[np.float32]
    gallery_labels: NDArray[np.int64]
    probes: NDArray[np.float32]
    probe_labels: NDArray[np.int64]


@dataclass(frozen=True)
class CalibrationCheck:
    gallery_size: int
    target: float
    threshold: float
    predicted: float  # what the table says at that threshold (the target, up to interpolation)
    observed: float  # share of held-out non-mated searches whose best score reached it
    searches: int

    @property
    def ratio(self) -> float:
        return self.observed / self.predicted if self.predicted else float("nan")


def load_cache(path: Path) -> Protocol:
    """The embeddings cache (`vectors`, `labels`, `gallery` = leading gallery rows)."""
    data = np.load(path, allow_pickle=False)
    vectors, labels, count = data["vectors"], data["labels"].astype(np.int64), int(data["gallery"])
    return Protocol(vectors[:count], labels[:count], vectors[count:], labels[count:])


def from_matrix(vectors: NDArray[np.float32], labels: list[int], gallery_count: int) -> Protocol:
    numbers = np.asarray(labels, dtype=np.int64)
    return Protocol(vectors[:gallery_count], numbers[:gallery_count], vectors[gallery_count:],
                    numbers[gallery_count:])


def nonmated_scores(gallery: NDArray[np.float32], gallery_labels: NDArray[np.int64],
                    probes: NDArray[np.float32], probe_labels: NDArray[np.int64],
                    batch: int = 512) -> NDArray[np.float32]:
    """Every probe against every gallery face of another person, flattened."""
    parts = []
    for start in range(0, len(probes), batch):
        scores = probes[start:start + batch] @ gallery.T
        parts.append(scores[probe_labels[start:start + batch, None] != gallery_labels[None, :]])
    return np.concatenate(parts)


def nonmated_tops(gallery: NDArray[np.float32], gallery_labels: NDArray[np.int64],
                  probes: NDArray[np.float32], probe_labels: NDArray[np.int64]) -> NDArray[np.float32]:
    """The best score of each probe's search with its own person left out of the gallery."""
    scores = probes @ gallery.T
    scores[probe_labels[:, None] == gallery_labels[None, :]] = -np.inf
    return np.asarray(scores.max(axis=1))


FIT_SIZES = (250, 500, 1000, 2000)  # and the whole gallery: the sizes N_eff is fitted on
FIT_RATES = (0.05, 0.02, 0.01, 0.005)  # observed top-score rates N_eff is fitted at


def fit_protocol(protocol: Protocol, *, recipe: str, fitted_on: str) -> calibration.Calibration:
    scores = nonmated_scores(protocol.gallery, protocol.gallery_labels, protocol.probes,
                             protocol.probe_labels)
    meta = {"fitted_on": fitted_on, "comparisons": int(len(scores)),
            "searches": int(len(protocol.probes)), "gallery_faces": int(len(protocol.gallery)),
            "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": "FPIR(s, N) = 1 - (1 - tail(s))^N_eff, N_eff = min(N, scale * N^exponent); "
                     f"tail beyond the last {calibration.TAIL_FIT_MIN_COUNT} comparisons: "
                     "exponential fit"}
    table = calibration.fit(scores, recipe=recipe, meta=meta)
    scale, exponent = calibration.effective_size_fit(table, top_score_rates(protocol))
    return replace(table, scale=scale, exponent=exponent)


def top_score_rates(protocol: Protocol) -> list[tuple[int, float, float]]:
    """(N, score, observed rate): the score that FIT_RATES of the searches reach in galleries of
    FIT_SIZES drawn from the protocol's, and the whole."""
    rng = np.random.default_rng(SEED)
    observations = []
    for size in sorted({min(s, len(protocol.gallery)) for s in FIT_SIZES} | {len(protocol.gallery)}):
        tops = drawn_tops(protocol, size, rng)
        observations += [(size, float(np.quantile(tops, 1 - rate)), rate) for rate in FIT_RATES]
    return observations


def drawn_tops(protocol: Protocol, size: int, rng: np.random.Generator) -> NDArray[np.float32]:
    """The non-mated top scores of every probe in DRAWS galleries of `size` drawn from the
    protocol's (one, if that is the whole gallery), pooled."""
    draws = 1 if size >= len(protocol.gallery) else DRAWS
    parts = []
    for _ in range(draws):
        chosen = np.sort(rng.choice(len(protocol.gallery), size=size, replace=False))
        parts.append(nonmated_tops(protocol.gallery[chosen], protocol.gallery_labels[chosen],
                                   protocol.probes, protocol.probe_labels))
    return np.concatenate(parts)


def halves(protocol: Protocol) -> tuple[Protocol, Protocol]:
    """Fit half (probes and gallery of even-numbered people), held-out probes (odd people) with
    the whole gallery to draw galleries of every size from."""
    even_gallery = protocol.gallery_labels % 2 == 0
    even_probes = protocol.probe_labels % 2 == 0
    fit_half = Protocol(protocol.gallery[even_gallery], protocol.gallery_labels[even_gallery],
                        protocol.probes[even_probes], protocol.probe_labels[even_probes])
    held_out = Protocol(protocol.gallery, protocol.gallery_labels,
                        protocol.probes[~even_probes], protocol.probe_labels[~even_probes])
    return fit_half, held_out


def check(table: calibration.Calibration, held_out: Protocol, sizes: tuple[int, ...] = SIZES,
          targets: tuple[float, ...] = TARGETS) -> list[CalibrationCheck]:
    """Predicted against observed false-match rate at each gallery size and target."""
    rng = np.random.default_rng(SEED)
    rows = []
    for size in sizes:
        size = min(size, len(held_out.gallery))
        tops = drawn_tops(held_out, size, rng)
        for target in targets:
            threshold = table.threshold(target, size)
            rows.append(CalibrationCheck(
                gallery_size=size, target=target, threshold=threshold,
                predicted=table.false_match_rate(threshold, size),
                observed=float((tops >= threshold).mean()), searches=len(tops)))
    return rows


def calibration_error(protocol: Protocol, *, recipe: str) -> list[CalibrationCheck]:
    fit_half, held_out = halves(protocol)
    table = fit_protocol(fit_half, recipe=recipe, fitted_on="LFW, even-numbered people")
    return check(table, held_out)


def as_rows(checks: list[CalibrationCheck]) -> list[dict[str, Any]]:
    return [{"gallery_size": c.gallery_size, "target": c.target, "threshold": round(c.threshold, 4),
             "predicted": round(c.predicted, 5), "observed": round(c.observed, 5),
             "ratio": round(c.ratio, 2), "searches": c.searches} for c in checks]

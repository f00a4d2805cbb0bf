"""Fitting the score calibration on LFW's non-mated searches, and measuring how well it holds.

The score is the one the search orders candidates by and draws the line on: adaptive S-norm
(search/engine/scoring.py), computed by search/bench/normalization.py exactly as there.
Non-mated comparisons: every probe against every gallery face except its own person's, i.e. the
comparisons of a search for someone who is not enrolled (the identification protocol,
search/bench/identification.py), each normalized with the face's cohort within the gallery used
and the probe's top-K raw candidates. The table is the tail of those scores
(search.engine.calibration); the effective gallery size is fitted on the top normalized scores of
non-mated searches in galleries drawn from it, with every cohort recomputed within each.

Calibration error: fit on the people with an even index, then search for the odd people's probes
(never seen by the fit) in galleries of several sizes drawn from LFW's 5,749; at the score the
table gives for a target false-match rate, count how many of those searches reach it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from search.bench import normalization
from search.bench.identification import Split
from search.engine import calibration

SIZES = (500, 1000, 2000, 5749)
TARGETS = (0.01, 0.001)
SEED = 16
DRAWS = 8  # galleries drawn per size smaller than the whole: one draw alone is too noisy


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


# The normalized score is drawn on only in galleries at least this large (the table's
# `min_gallery`, CASEBOUND_NORMALIZED_MIN_GALLERY overrides it): below, a cohort of 50 is a tenth
# or more of the gallery, and in 30 faces a stranger's normalized best scored past the 1% line of
# 250. Smaller galleries are drawn on the raw cosine, whose table bounds N_eff by N.
NORMALIZED_MIN_GALLERY = 500
# The score each kind of table is fitted on, replayed as the search computes it.
VARIANTS = {calibration.SCORE_KIND_NORMALIZED: normalization.PRODUCTION,
            calibration.SCORE_KIND_COSINE: normalization.BASELINE}
FIT_SIZES = (250, 500, 1000, 2000)  # and the whole gallery: the sizes N_eff is fitted on
FIT_RATES = (0.05, 0.02, 0.01, 0.005)  # observed top-score rates N_eff is fitted at


def fit_protocol(split: Split, *, recipe: str, fitted_on: str,
                 score_kind: str = calibration.SCORE_KIND) -> calibration.Calibration:
    variant = VARIANTS[score_kind]
    scores = normalization.nonmated_comparisons(split, variant)
    prior_mean, prior_std = normalization.cohort_prior(split.gallery)
    meta: dict[str, Any] = {"fitted_on": fitted_on, "comparisons": int(len(scores)),
            "searches": int(len(split.probes)), "gallery_faces": int(len(split.gallery)),
            "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": "FPIR(s, N) = 1 - (1 - tail(s))^N_eff, N_eff = scale * min(N, fitted_up_to)"
                     f"^exponent; tail beyond the last {calibration.TAIL_FIT_MIN_COUNT} comparisons: "
                     "exponential fit",
            "cohort_prior": {"mean": round(prior_mean, 5), "std": round(prior_std, 5)}}
    if score_kind == calibration.SCORE_KIND_NORMALIZED:
        meta["min_gallery"] = NORMALIZED_MIN_GALLERY
    else:
        meta["model"] = f"{meta['model']}; N_eff at most N (the independence bound)"
    table = calibration.fit(scores, recipe=recipe, meta=meta, score_kind=score_kind)
    observations = top_score_rates(split, variant)
    scale, exponent = calibration.effective_size_fit(table, observations)
    return replace(table, scale=scale, exponent=exponent,
                   fitted_up_to=max(size for size, _, _ in observations))


def top_score_rates(split: Split, variant: normalization.Variant = normalization.PRODUCTION
                    ) -> list[tuple[int, float, float]]:
    """(N, score, observed rate): the score that FIT_RATES of the searches reach in galleries of
    FIT_SIZES drawn from the split's, and the whole."""
    rng = np.random.default_rng(SEED)
    observations = []
    for size in sorted({min(s, len(split.gallery)) for s in FIT_SIZES} | {len(split.gallery)}):
        tops = drawn_tops(split, size, rng, variant)
        observations += [(size, float(np.quantile(tops, 1 - rate)), rate) for rate in FIT_RATES]
    return observations


def drawn_tops(split: Split, size: int, rng: np.random.Generator,
               variant: normalization.Variant = normalization.PRODUCTION) -> NDArray[np.float64]:
    """The non-mated top normalized scores of every probe in DRAWS galleries of `size` drawn
    from the split's (one, if that is the whole gallery), each with its own cohorts, pooled."""
    draws = 1 if size >= len(split.gallery) else DRAWS
    parts = []
    for _ in range(draws):
        chosen = np.sort(rng.choice(len(split.gallery), size=size, replace=False))
        parts.append(normalization.nonmated_top_scores(
            split.gallery[chosen], split.gallery_labels[chosen], split.probes,
            split.probe_labels, variant))
    return np.concatenate(parts)


def halves(split: Split) -> tuple[Split, Split]:
    """Fit half (probes and gallery of even-numbered people), held-out probes (odd people) with
    the whole gallery to draw galleries of every size from."""
    even_gallery = split.gallery_labels % 2 == 0
    even_probes = split.probe_labels % 2 == 0
    fit_half = Split(split.gallery[even_gallery], split.gallery_labels[even_gallery],
                     split.probes[even_probes], split.probe_labels[even_probes])
    held_out = Split(split.gallery, split.gallery_labels,
                     split.probes[~even_probes], split.probe_labels[~even_probes])
    return fit_half, held_out


def check(table: calibration.Calibration, held_out: Split, sizes: tuple[int, ...] = SIZES,
          targets: tuple[float, ...] = TARGETS) -> list[CalibrationCheck]:
    """Predicted against observed false-match rate at each gallery size and target."""
    rng = np.random.default_rng(SEED)
    rows = []
    for size in sizes:
        size = min(size, len(held_out.gallery))
        tops = drawn_tops(held_out, size, rng, VARIANTS[table.score_kind])
        for target in targets:
            threshold = table.threshold(target, size)
            rows.append(CalibrationCheck(
                gallery_size=size, target=target, threshold=threshold,
                predicted=table.false_match_rate(threshold, size),
                observed=float((tops >= threshold).mean()), searches=len(tops)))
    return rows


# The cosine line serves the small galleries: it is checked there too.
CHECK_SIZES = {calibration.SCORE_KIND_NORMALIZED: SIZES,
               calibration.SCORE_KIND_COSINE: (30, 100, 250, *SIZES)}


def calibration_error(split: Split, *, recipe: str, score_kind: str = calibration.SCORE_KIND
                      ) -> list[CalibrationCheck]:
    fit_half, held_out = halves(split)
    table = fit_protocol(fit_half, recipe=recipe, fitted_on="LFW, even-numbered people",
                         score_kind=score_kind)
    return check(table, held_out, CHECK_SIZES[score_kind])


def as_rows(checks: list[CalibrationCheck]) -> list[dict[str, Any]]:
    return [{"gallery_size": c.gallery_size, "target": c.target, "threshold": round(c.threshold, 4),
             "predicted": round(c.predicted, 5), "observed": round(c.observed, 5),
             "ratio": round(c.ratio, 2), "searches": c.searches} for c in checks]

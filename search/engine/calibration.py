"""Score to false-match rate: how often a person who is not enrolled scores this high.

The table holds, on a grid of scores, the per-comparison tail q(s): the share of comparisons of
two different people that score s or more, measured on non-mated LFW searches (`manage.py
calibrate`). The score is one the search orders by: normalized or raw cosine (SCORE_KINDS,
one table of each per recipe; the gallery's size picks). A search for
someone not enrolled compares the probe with N gallery faces; the chance that the best of them
reaches s would be 1 - (1 - q(s))^N if the comparisons were independent and their scores did not
depend on the gallery. Neither holds (a probe that looks like many people looks like them all at
once, and the normalization measures each score against the gallery's own look-alikes), so N is
replaced by an effective gallery size N_eff = scale * min(N, N_max)^exponent, fitted on the top
scores of non-mated searches in galleries of several sizes up to N_max: FPIR(s, N) =
1 - (1 - q(s))^N_eff. N_eff is a fitted parameter, not a count. For the normalized score it falls
as N grows (a small gallery's cohorts are a wide slice of it, so its top scores stand out more):
the normalized line is lower in a larger gallery, for the same false-match rate. Beyond N_max it
is held, not extrapolated: the top scores settle as the cohorts become a gallery's extreme tail,
so holding N_eff errs towards a stricter line. docs/benchmarks.md, "Calibration", measures how
well it holds on held-out people.

Pure: arrays and numbers in, arrays and numbers out; reading the shipped table is the one side
effect (`table_for`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from search.engine.scoring import COHORT_SIZE

# Which score a table calibrates and the search compares with the line. Two kinds, one table of
# each per recipe: the adaptive S-norm (search/engine/scoring.py), for galleries at least as large
# as its table's `min_gallery` (in a smaller one a cohort of 50 is most of the gallery, so the
# normalized score inflates and its fitted N_eff is an extrapolation); the raw cosine below that.
# The search picks one in one place (search.services.searching.score_kind_for); a table of
# another kind is refused.
SCORE_KIND_NORMALIZED = f"adaptive_s_norm_k{COHORT_SIZE}"
SCORE_KIND_COSINE = "cosine_similarity"
SCORE_KIND = SCORE_KIND_NORMALIZED
SCORE_KINDS = (SCORE_KIND_NORMALIZED, SCORE_KIND_COSINE)
# Normalized scores are in standard deviations: non-mated comparisons sit near 0, true matches
# reach 10 and more. Cosine similarities of face embeddings lie in 0..1 in practice.
GRIDS = {SCORE_KIND_NORMALIZED: np.round(np.arange(-5.0, 25.0 + 1e-9, 0.01), 2),
         SCORE_KIND_COSINE: np.round(np.arange(0.0, 1.0 + 1e-9, 0.001), 3)}
GRID = GRIDS[SCORE_KIND_NORMALIZED]
# How each kind is named to people (pages, API, disclosure) and how many decimals it needs.
SCORE_NAMES = {SCORE_KIND_NORMALIZED: ("normalized score", 2), SCORE_KIND_COSINE: ("similarity", 3)}
# Below this many exceedances the empirical tail is noise: an exponential fitted on the last
# well-measured stretch of the tail carries it further (log q is close to linear in s there).
TAIL_FIT_MIN_COUNT = 50
TAIL_FIT_MAX_COUNT = 1250  # the fit uses the stretch where 50 to 1,250 comparisons reach the score
FLOOR = 1e-15  # the smallest tail the table stores; beyond it every rate reads as zero

BAND_STRONG = "strong"
BAND_POSSIBLE = "possible"
BAND_WEAK = "weak"
STRONG_FACTOR = 10  # strong: ten times rarer than the agency's target among non-enrolled people


class CalibrationMissing(Exception):
    """No calibration table for this recipe and score: searches cannot draw the agency's line."""


@dataclass(frozen=True)
class Calibration:
    recipe: str
    score_kind: str
    scores: NDArray[np.float64]  # ascending
    tails: NDArray[np.float64]  # per-comparison P(score >= s), non-increasing
    meta: dict[str, Any] = field(default_factory=dict)
    scale: float = 1.0  # N_eff = scale * min(N, fitted_up_to)^exponent; 1 and 1: independent
    exponent: float = 1.0
    fitted_up_to: int | None = None  # the largest gallery N_eff was fitted on; None: no bound
    # N_eff <= N (the independence bound): a raw cosine does not depend on the gallery, so a
    # gallery's best of N correlated comparisons is no likelier to pass than N independent ones;
    # in a gallery smaller than any fitted, the bound errs strict instead of extrapolating.
    at_most_gallery: bool = False

    def effective_size(self, gallery_size: int) -> float:
        size = max(gallery_size, 1)
        effective = self.scale * min(size, self.fitted_up_to or size) ** self.exponent
        return float(min(effective, size) if self.at_most_gallery else effective)

    @property
    def min_gallery(self) -> int:
        """The smallest gallery this table was validated for (0: any)."""
        return int(self.meta.get("min_gallery", 0))

    def false_match_rate(self, score: float, gallery_size: int) -> float:
        """The chance that a person not enrolled reaches `score` in a gallery of this size."""
        return float(fpir(comparison_tail_at(self, score), self.effective_size(gallery_size)))

    def threshold(self, target: float, gallery_size: int) -> float:
        """The lowest score whose false-match rate in this gallery is at most `target`."""
        wanted = per_comparison_rate(target, self.effective_size(gallery_size))
        log_tails = np.log(np.maximum(self.tails, FLOOR))
        # log q falls with s: interpolate s as a function of log q on the reversed grid
        return float(np.interp(np.log(max(wanted, FLOOR)), log_tails[::-1], self.scores[::-1]))

    @property
    def cohort_prior(self) -> tuple[float, float]:
        """The typical face cohort (mean, std) of the calibration gallery: the statistics a
        candidate is normalized with when neither it nor the probe has a cohort of its own."""
        prior = self.meta["cohort_prior"]
        return float(prior["mean"]), float(prior["std"])

    def as_json(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "score_kind": self.score_kind, **self.meta,
                "effective_gallery": {"scale": float(f"{self.scale:.6g}"),
                                      "exponent": round(self.exponent, 4),
                                      "fitted_up_to": self.fitted_up_to,
                                      "at_most_gallery": self.at_most_gallery},
                "grid": [float(s) for s in self.scores],
                "tail": [float(f"{q:.6g}") for q in self.tails]}


def comparison_tail_at(calibration: Calibration, score: float) -> float:
    log_tails = np.log(np.maximum(calibration.tails, FLOOR))
    return float(np.exp(np.interp(score, calibration.scores, log_tails)))


def fpir(tail: float | NDArray[np.float64], gallery_size: float) -> Any:
    """1 - (1 - q)^N, accurate for tiny q."""
    return -np.expm1(gallery_size * np.log1p(-np.minimum(tail, 1 - 1e-12)))


def per_comparison_rate(target: float, gallery_size: float) -> float:
    """The q whose false-match rate over `gallery_size` comparisons is `target`."""
    return float(-np.expm1(np.log1p(-target) / max(gallery_size, 1.0)))


def comparison_tail(nonmated: NDArray[np.floating[Any]],
                    grid: NDArray[np.float64] = GRID) -> NDArray[np.float64]:
    """Per-comparison tail on the grid from non-mated comparison scores, the far tail fitted.

    Where fewer than TAIL_FIT_MIN_COUNT comparisons reach a score, log q is extended by a straight
    line fitted (weighted by the counts' precision) where TAIL_FIT_MIN_COUNT to TAIL_FIT_MAX_COUNT
    reach it, so the table answers for galleries larger than the calibration set (a million faces
    needs q near 1e-8).
    """
    ordered = np.sort(np.asarray(nonmated, dtype=np.float64))
    count = len(ordered)
    reaching = count - np.searchsorted(ordered, grid, side="left")
    tails = reaching / count
    # A small sample (the tests' fifteen people) scales the stretch down with it.
    low = min(TAIL_FIT_MIN_COUNT, max(count // 50, 2))
    high = min(TAIL_FIT_MAX_COUNT, max(count // 4, low + 1))
    cut_score = ordered[count - low]
    fit = (reaching >= low) & (reaching <= high)
    if fit.sum() >= 2:
        slope, intercept = np.polyfit(grid[fit], np.log(tails[fit]), 1,
                                      w=np.sqrt(reaching[fit]))  # Poisson: log's error ~ 1/sqrt(n)
        far = grid > cut_score
        tails[far] = np.exp(intercept + min(slope, 0.0) * grid[far])
    return np.maximum(np.minimum.accumulate(tails), FLOOR)


def fit(nonmated: NDArray[np.floating[Any]], *, recipe: str, meta: dict[str, Any],
        score_kind: str = SCORE_KIND) -> Calibration:
    """The tail alone (independent comparisons); `effective_size_fit` adds the correction."""
    grid = GRIDS[score_kind]
    return Calibration(recipe=recipe, score_kind=score_kind, scores=grid.copy(),
                       tails=comparison_tail(nonmated, grid), meta=meta,
                       at_most_gallery=score_kind == SCORE_KIND_COSINE)


def effective_size_fit(table: Calibration, observations: list[tuple[int, float, float]]
                       ) -> tuple[float, float]:
    """(scale, exponent) of N_eff = scale * N^exponent from (N, score, observed FPIR) triples:
    for each, the N_eff that makes 1 - (1 - q(score))^N_eff the observed rate, then a line in
    log-log."""
    sizes, effective = [], []
    for size, score, observed in observations:
        tail = comparison_tail_at(table, score)
        if 0 < observed < 1 and tail > 0:
            sizes.append(np.log(size))
            effective.append(np.log(np.log1p(-observed) / np.log1p(-tail)))
    if len(set(sizes)) < 2:
        return 1.0, 1.0
    exponent, log_scale = np.polyfit(sizes, effective, 1)
    return float(np.exp(log_scale)), float(exponent)


def band(estimate: float, target: float) -> str:
    """Strong: ten times rarer than the target; possible: at most the target; weak: above it."""
    if estimate <= target / STRONG_FACTOR:
        return BAND_STRONG
    return BAND_POSSIBLE if estimate <= target else BAND_WEAK


def one_in(estimate: float) -> str:
    """'about 1 in 400' for a rate, rounded to two significant figures."""
    if estimate >= 0.5:
        return "more than 1 in 2"
    if estimate < 1e-9:
        return "less than 1 in a billion"
    odds = 1 / estimate
    digits = max(0, int(np.floor(np.log10(odds))) - 1)
    rounded = int(round(odds / 10 ** digits) * 10 ** digits)
    return f"about 1 in {rounded:,}"


def from_json(data: dict[str, Any]) -> Calibration:
    meta = {k: v for k, v in data.items()
            if k not in ("recipe", "score_kind", "grid", "tail", "effective_gallery")}
    effective = data.get("effective_gallery", {})
    return Calibration(recipe=data["recipe"], score_kind=data["score_kind"],
                       scores=np.asarray(data["grid"], dtype=np.float64),
                       tails=np.asarray(data["tail"], dtype=np.float64), meta=meta,
                       scale=float(effective.get("scale", 1.0)),
                       exponent=float(effective.get("exponent", 1.0)),
                       fitted_up_to=effective.get("fitted_up_to"),
                       at_most_gallery=bool(effective.get("at_most_gallery", False)))


def table_path(directory: Path, recipe: str, score_kind: str = SCORE_KIND) -> Path:
    suffix = "-cosine" if score_kind == SCORE_KIND_COSINE else ""
    return directory / f"calibration-{recipe.replace('+', '-plus-').lower()}{suffix}.json"


def score_text(score_kind: str, value: float) -> str:
    """'similarity 0.934' or 'normalized score 3.57': a score named as the line is drawn on it."""
    name, digits = SCORE_NAMES.get(score_kind, SCORE_NAMES[SCORE_KIND_NORMALIZED])
    return f"{name} {value:.{digits}f}"


@lru_cache(maxsize=16)
def table_for(directory: Path, recipe: str, score_kind: str = SCORE_KIND) -> Calibration:
    """The shipped table of a recipe; CalibrationMissing if absent or for another score."""
    path = table_path(directory, recipe, score_kind)
    if not path.is_file():
        raise CalibrationMissing(f"No {score_kind} calibration table for the face recipe {recipe!r} "
                                 f"at {path}. Run `manage.py calibrate --images LFW_DIR` to build it.")
    calibration = from_json(json.loads(path.read_text()))
    if calibration.score_kind != score_kind or calibration.recipe != recipe:
        raise CalibrationMissing(f"{path} calibrates {calibration.score_kind!r} of "
                                 f"{calibration.recipe!r}, not {score_kind!r} of {recipe!r}. Run "
                                 "`manage.py calibrate` again.")
    return calibration


def tables_for(directory: Path, recipe: str) -> dict[str, Calibration]:
    """Every kind's table of a recipe (a search may need either); CalibrationMissing if one is."""
    return {kind: table_for(directory, recipe, kind) for kind in SCORE_KINDS}

"""Scores against hubness: adaptive S-norm of cosine similarities over cohorts of other people.

Some enrolled faces sit close to many probes (a "hub": one look-alike shows up for everyone with
a similar face shape). A raw cosine of 0.92 means little on its own; it means much when it is far
above what the probe scores against everyone else *and* far above what the face scores against
everyone else. Adaptive S-norm (Sturim & Reynolds 2005; Matejka et al. 2017) measures both:

    score = ((s - mean_probe) / std_probe + (s - mean_face) / std_face) / 2

where mean/std are over the `k` highest similarities to faces of *other* subjects (the cohort):
for the face, its `k` nearest enrolled neighbours in its own agency (stored per face); for the
probe, the best of the same search's raw candidates, leaving out the candidate's own subject.
The figures that chose this variant and its `k` are in docs/benchmarks.md, "Score normalization".

Pure NumPy, no Django: the search service and the offline evaluation compute the same score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

COHORT_SIZE = 50  # k: the faces of other subjects whose similarities make a cohort
# A cohort whose scores barely vary (a tiny agency) must not turn a small gap into a huge score.
STD_FLOOR = 0.01

Floats = NDArray[np.floating[Any]]


def top_k_stats(similarities: Floats, k: int = COHORT_SIZE) -> tuple[float, float]:
    """Mean and (floored) standard deviation of the `k` highest similarities (fewer if fewer)."""
    values = np.asarray(similarities, dtype=np.float64)
    if values.size > k:
        values = np.partition(values, values.size - k)[-k:]
    if values.size == 0:
        return float("nan"), float("nan")
    return float(values.mean()), max(float(values.std()), STD_FLOOR)


def probe_cohort_stats(similarities: Floats, subjects: NDArray[np.integer[Any]],
                       k: int = COHORT_SIZE) -> tuple[Floats, Floats]:
    """For each candidate, the probe's cohort statistics over the other subjects' candidates.

    Leaving the candidate's own subject out is what keeps a true match from lowering its own
    score (its similarity would otherwise be in the cohort it is measured against).
    """
    similarities = np.asarray(similarities, dtype=np.float64)
    means, stds = np.empty(similarities.size), np.empty(similarities.size)
    for i, subject in enumerate(subjects):
        means[i], stds[i] = top_k_stats(similarities[subjects != subject], k)
    return means, stds


def s_norm(similarities: Floats, probe_mean: Floats, probe_std: Floats,
           face_mean: Floats, face_std: Floats) -> Floats:
    """The symmetric normalized score of each similarity (arrays broadcast)."""
    return 0.5 * ((similarities - probe_mean) / np.maximum(probe_std, STD_FLOOR)
                  + (similarities - face_mean) / np.maximum(face_std, STD_FLOOR))


def fill_missing(face_mean: Floats, face_std: Floats, default_mean: float | None,
                 default_std: float | None, probe_mean: Floats,
                 probe_std: Floats) -> tuple[Floats, Floats]:
    """Face statistics with the gaps filled: the agency's typical face cohort when known, else
    the probe's own cohort (the score then falls back to T-norm for that face)."""
    missing = np.isnan(face_mean) | np.isnan(face_std)
    fallback_mean = probe_mean if default_mean is None else np.full_like(probe_mean, default_mean)
    fallback_std = probe_std if default_std is None else np.full_like(probe_std, default_std)
    return np.where(missing, fallback_mean, face_mean), np.where(missing, fallback_std, face_std)

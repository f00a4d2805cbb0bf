"""A statistical model of real face embeddings, for synthetic galleries of any size.

A gallery of a million faces cannot be made of real photos here, and unit vectors drawn around
one direction with the same spread in all 128 dimensions are harder than faces are: real
embeddings vary along fewer directions. So the search benchmark draws its people and photos from
Gaussians with the covariances measured on real LFW embeddings (`manage.py fit_embedding_space`):
a person is `mean + B z`, a photo of them `person + W z`, both normalised, where B and W are the
square roots of the between-person and within-person covariances. The fitted model ships in
fixtures/ so the benchmark runs without the LFW folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "embedding_space.npz"


def _unit(x: NDArray[Any]) -> NDArray[Any]:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _sqrt_psd(covariance: NDArray[np.float64]) -> NDArray[np.float64]:
    """A matrix square root of a covariance, negative eigenvalues (estimation noise) clipped."""
    values, vectors = np.linalg.eigh(covariance)
    return vectors * np.sqrt(np.clip(values, 0, None))


@dataclass
class EmbeddingSpace:
    mean: NDArray[np.float64]
    between: NDArray[np.float64]
    within: NDArray[np.float64]

    @classmethod
    def fit(cls, vectors: NDArray[np.float32], labels: NDArray[np.int64]) -> EmbeddingSpace:
        """Between- and within-person covariances of real embeddings (labels: person ids)."""
        people = np.unique(labels)
        centres = np.stack([vectors[labels == p].mean(axis=0) for p in people])
        counts = np.array([(labels == p).sum() for p in people])
        residuals = np.concatenate([
            (vectors[labels == p] - centre) * np.sqrt(n / (n - 1))  # unbiased within spread
            for p, centre, n in zip(people, centres, counts, strict=True) if n > 1])
        within = np.cov(residuals, rowvar=False)
        # A person's mean photo still carries within noise of variance within / n; remove it.
        between = np.cov(centres, rowvar=False) - within * float(np.mean(1 / counts))
        return cls(mean=vectors.mean(axis=0).astype(np.float64), between=_sqrt_psd(between),
                   within=_sqrt_psd(within))

    def people(self, rng: np.random.Generator, count: int) -> NDArray[np.float64]:
        z = rng.standard_normal((count, self.mean.shape[0]))
        return np.asarray(self.mean + z @ self.between.T)

    def photos(self, rng: np.random.Generator, people: NDArray[np.float64]) -> NDArray[np.float32]:
        z = rng.standard_normal(people.shape)
        return np.asarray(_unit(people + z @ self.within.T), dtype=np.float32)

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, between=self.between, within=self.within)

    @classmethod
    def load(cls, path: Path = DEFAULT_PATH) -> EmbeddingSpace:
        with np.load(path) as data:
            return cls(mean=data["mean"], between=data["between"], within=data["within"])


def describe(vectors: NDArray[np.float32], labels: NDArray[np.int64], pairs: int = 20000,
             seed: int = 0) -> dict[str, float]:
    """Figures that say whether two sets of embeddings look alike: cosine similarity of photos of
    the same person and of different people, and how many directions carry the variance
    (participation ratio of the covariance's eigenvalues)."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(vectors), (2, pairs))
    same = labels[a] == labels[b]
    mated = np.flatnonzero(np.diff(labels) == 0)  # consecutive photos of one person
    same_scores = np.sum(vectors[mated] * vectors[mated + 1], axis=1)
    different_scores = np.sum(vectors[a[~same]] * vectors[b[~same]], axis=1)
    eigen = np.clip(np.linalg.eigvalsh(np.cov(vectors, rowvar=False)), 0, None)
    return {
        "same_person_cos_mean": round(float(same_scores.mean()), 3),
        "same_person_cos_std": round(float(same_scores.std()), 3),
        "different_people_cos_mean": round(float(different_scores.mean()), 3),
        "different_people_cos_std": round(float(different_scores.std()), 3),
        "different_people_cos_p999": round(float(np.quantile(different_scores, 0.999)), 3),
        "effective_dimensions": round(float(eigen.sum() ** 2 / (eigen ** 2).sum()), 1),
    }

"""1:N identification on LFW through the production pipeline: rank-k hit rates and open-set
FNIR at fixed FPIR, the figures a threshold is calibrated from.

Gallery: the first photo of each of LFW's 5,749 people. Mated probes: every other photo of the
1,680 people with several. Non-mated searches reuse the same probes with the person's own
gallery entry left out, so each is a search for someone who is not enrolled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.core.management.base import CommandError
from numpy.typing import NDArray
from tqdm import tqdm

from search.bench.evaluation import embed_all

MODEL_NAME = "Dlib+mirror"  # the recipe evaluate embeds with (search.engine.pipeline.MODEL_NAME)
CANDIDATES = 10  # the length of a candidate list an officer sees


@dataclass
class Identification:
    people: int
    probes: int
    rank1: float
    rank10: float
    fnir_at_fpir: dict[str, tuple[float, float]]  # FPIR label -> (threshold, FNIR)
    missing_faces: int
    images_per_second: float | None  # None: read from a cache


def lfw_split(images: Path) -> tuple[list[Path], list[int], list[Path], list[int]]:
    """Gallery paths and labels (one per person), probe paths and labels (the rest)."""
    gallery, gallery_labels, probes, probe_labels = [], [], [], []
    for label, person in enumerate(sorted(p for p in images.iterdir() if p.is_dir())):
        photos = sorted(person.glob("*.jpg"))
        gallery.append(photos[0])
        gallery_labels.append(label)
        probes += photos[1:]
        probe_labels += [label] * (len(photos) - 1)
    return gallery, gallery_labels, probes, probe_labels


def _matrix(vectors: list[NDArray[np.float32] | None]) -> NDArray[np.float32]:
    dimension = next(v for v in vectors if v is not None).shape[0]
    return np.stack([v if v is not None else np.zeros(dimension, np.float32) for v in vectors])


def identify(gallery: NDArray[np.float32], gallery_labels: NDArray[np.int64],
             probes: NDArray[np.float32], probe_labels: NDArray[np.int64]) -> dict[str, object]:
    """Rank hit rates and FNIR at FPIR 1% and 0.1% from exact cosine similarities."""
    scores = probes @ gallery.T  # unit vectors: the dot product is the cosine similarity
    mate_column = np.searchsorted(gallery_labels, probe_labels)
    mate_scores = scores[np.arange(len(probes)), mate_column]
    higher = (scores > mate_scores[:, None]).sum(axis=1)  # rank of the mate, from 0
    scores[np.arange(len(probes)), mate_column] = -np.inf  # the person is now not enrolled
    nonmated_top = scores.max(axis=1)
    results: dict[str, tuple[float, float]] = {}
    for label, fpir in (("1%", 0.01), ("0.1%", 0.001)):
        threshold = float(np.quantile(nonmated_top, 1 - fpir))
        missed = (mate_scores < threshold) | (higher >= CANDIDATES)
        results[label] = (threshold, float(missed.mean()))
    return {"rank1": float((higher == 0).mean()), "rank10": float((higher < 10).mean()),
            "fnir_at_fpir": results}


@dataclass(frozen=True)
class Split:
    """Embeddings of the identification split: gallery rows first, then mated probes."""

    gallery: NDArray[np.float32]
    gallery_labels: NDArray[np.int64]
    probes: NDArray[np.float32]
    probe_labels: NDArray[np.int64]
    missing: int = 0
    recipe: str = MODEL_NAME  # the face recipe that embedded it (portal/recipes.py)


def split_save(path: Path, split: Split) -> None:
    """Write a split as an .npz cache (`vectors`, `labels`, `gallery`: the first rows' count)."""
    vectors = np.concatenate([split.gallery, split.probes]).astype(np.float32)
    labels = np.concatenate([split.gallery_labels, split.probe_labels])
    with path.open("wb") as handle:  # np.savez would add .npz to a name without it
        np.savez(handle, vectors=vectors, labels=labels, gallery=len(split.gallery),
                 missing=~vectors.any(axis=1), recipe=split.recipe)


def split_load(path: Path) -> Split:
    """Read a cache written by `split_save` (the format of the shared LFW embedding job)."""
    with np.load(path) as data:
        vectors, labels = data["vectors"].astype(np.float32), data["labels"].astype(np.int64)
        n = int(data["gallery"])
        missing = int(data["missing"].sum()) if "missing" in data else 0
        # The first caches predate the key: they hold the default recipe's embeddings.
        recipe = str(data["recipe"]) if "recipe" in data else MODEL_NAME
    return Split(vectors[:n], labels[:n], vectors[n:], labels[n:], missing, recipe)


def split_embed(images: Path, processes: int = 2, on_done: Callable[[int], None] | None = None,
                recipe: str = MODEL_NAME) -> tuple[Split, float]:
    """Embed the LFW split through the pipeline under a recipe; returns it with the images per
    second."""
    gallery_paths, gallery_labels, probe_paths, probe_labels = lfw_split(images)
    started = time.perf_counter()
    vectors = embed_all(gallery_paths + probe_paths, processes, on_done, gallery=len(gallery_paths),
                        recipe=recipe)
    seconds = time.perf_counter() - started
    matrix, n = _matrix(vectors), len(gallery_paths)
    split = Split(matrix[:n], np.array(gallery_labels), matrix[n:], np.array(probe_labels),
                  missing=sum(v is None for v in vectors), recipe=recipe)
    return split, len(vectors) / seconds


def split_for(images: Path | None, cache: Path | None, processes: int, recipe: str | None = None,
              report: Callable[[str], None] | None = None) -> tuple[Split, float | None]:
    """The split for a bench command: read from `cache` if it exists (no speed), else embedded
    from `images` under `recipe` and written to `cache` when one is named. One cache format for
    every command (`split_save`)."""
    if cache is not None and cache.is_file():
        try:
            split = split_load(cache)
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"--embeddings-cache {cache} is not a readable cache ({exc}); "
                               "remove it to embed again") from None
        if recipe is not None and split.recipe != recipe:
            raise CommandError(f"--embeddings-cache {cache} holds {split.recipe} embeddings, not "
                               f"{recipe}: name another cache file")
        return split, None
    if images is None or not images.is_dir():
        raise CommandError("--images must be the LFW folder of Person_Name/ folders "
                           "(or give an existing --embeddings-cache)")
    with tqdm(unit="image", disable=None) as bar:
        split, speed = split_embed(images, processes, lambda n: bar.update(n - bar.n),
                                   recipe or MODEL_NAME)
    if cache is not None:
        split_save(cache, split)
        if report is not None:
            report(f"embeddings written to {cache}")
    return split, speed


def evaluate_split(split: Split, images_per_second: float | None = None) -> Identification:
    """Raw-cosine figures of an embedded split (the figures before normalization)."""
    figures = identify(split.gallery, split.gallery_labels, split.probes, split.probe_labels)
    return Identification(people=len(split.gallery), probes=len(split.probes),
                          rank1=float(figures["rank1"]), rank10=float(figures["rank10"]),  # type: ignore[arg-type]
                          fnir_at_fpir=figures["fnir_at_fpir"],  # type: ignore[arg-type]
                          missing_faces=split.missing, images_per_second=images_per_second)

"""The LFW verification protocol, run through the production pipeline.

Ten folds; the threshold of each fold is chosen on the other nine (the official protocol), and the
accuracy is the mean over folds.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from portal.recipes import recipe_get
from search.engine import pipeline
from search.engine.pipeline import ImageRejected, Pick

FOLDS = 10


@dataclass
class Pair:
    first: Path
    second: Path
    same: bool


def _image(images: Path, name: str, number: str) -> Path:
    return images / name / f"{name}_{int(number):04d}.jpg"


def read_pairs(images: Path, pairs_file: Path) -> list[list[Pair]]:
    """Pairs grouped in ten folds, in the official file format.

    View 2's header names its folds (`10 300`: ten sets of 300 matched then 300 mismatched); the
    dev files have one set (`500`), which is split into ten folds with both kinds in each.
    """
    lines = [line.split() for line in pairs_file.read_text().splitlines() if line.strip()]
    header, rows = lines[0], lines[1:]
    pairs = [Pair(_image(images, r[0], r[1]), _image(images, r[0], r[2]), True) if len(r) == 3
             else Pair(_image(images, r[0], r[1]), _image(images, r[2], r[3]), False) for r in rows]
    if len(header) == 2:
        size = 2 * int(header[1])
        return [pairs[i:i + size] for i in range(0, len(pairs), size)]
    matched = [p for p in pairs if p.same]
    mismatched = [p for p in pairs if not p.same]
    return [list(a) + list(b) for a, b in zip(np.array_split(np.array(matched, dtype=object), FOLDS),
                                              np.array_split(np.array(mismatched, dtype=object), FOLDS),
                                              strict=True)]


def embed_file(path: Path, thorough: bool = False,
               recipe: str | None = None) -> NDArray[np.float32] | None:
    """The production embedding of the face nearest the centre (LFW's labelled person);
    `thorough` as enrollment embeds a gallery photo, else as a search embeds a probe; under
    `recipe` (portal/recipes.py; default: the default recipe)."""
    try:
        face = pipeline.analyze(pipeline.decode(path.read_bytes()), pick=Pick.CENTRE,
                                thorough=thorough, recipe=recipe_get(recipe) if recipe else None)
    except ImageRejected:
        return None
    return face.embedding if face else None


def _embed_item(item: tuple[Path, bool, str | None]) -> NDArray[np.float32] | None:
    return embed_file(*item)


def embed_all(paths: list[Path], processes: int, on_done: Callable[[int], None] | None = None,
              *, gallery: int = 0, recipe: str | None = None) -> list[NDArray[np.float32] | None]:
    """Embeddings of many photos under a recipe (default: the default one), one worker process
    per core; the first `gallery` of them are gallery photos, embedded as enrollment does."""
    # Not "fork": a child forked after dlib's CNN has run in the parent hangs in its next CNN call.
    context = multiprocessing.get_context("forkserver")
    items = [(path, position < gallery, recipe) for position, path in enumerate(paths)]
    with context.Pool(processes, initializer=pipeline.warm_up) as pool:
        results = []
        for count, vector in enumerate(pool.imap(_embed_item, items, chunksize=16), start=1):
            results.append(vector)
            if on_done:
                on_done(count)
    return results


def best_threshold(scores: NDArray[np.float64], same: NDArray[np.bool_]) -> float:
    """The similarity threshold with the highest accuracy on these pairs."""
    candidates = np.unique(scores)
    accuracies = [((scores >= t) == same).mean() for t in candidates]
    return float(candidates[int(np.argmax(accuracies))])


@dataclass
class Evaluation:
    fold_accuracies: list[float]
    thresholds: list[float]
    pairs: int
    images: int
    missing_faces: int
    seconds: float


def evaluate(images: Path, pairs_file: Path, processes: int = 2,
             on_done: Callable[[int], None] | None = None) -> Evaluation:
    """Run the protocol; an image without a detected face makes its pairs count as 'different'."""
    folds = read_pairs(images, pairs_file)
    paths = list(dict.fromkeys(path for pair in (p for fold in folds for p in fold)
                               for path in (pair.first, pair.second)))
    started = time.perf_counter()
    embeddings = dict(zip(paths, embed_all(paths, processes, on_done), strict=True))
    seconds = time.perf_counter() - started
    scores = [np.array([_similarity(embeddings[p.first], embeddings[p.second]) for p in fold])
              for fold in folds]
    same = [np.array([p.same for p in fold]) for fold in folds]
    accuracies, thresholds = [], []
    for k in range(len(folds)):
        rest = [i for i in range(len(folds)) if i != k]
        threshold = best_threshold(np.concatenate([scores[i] for i in rest]),
                                   np.concatenate([same[i] for i in rest]))
        thresholds.append(threshold)
        accuracies.append(float(((scores[k] >= threshold) == same[k]).mean()))
    return Evaluation(accuracies, thresholds, sum(len(f) for f in folds), len(embeddings),
                      sum(1 for e in embeddings.values() if e is None), seconds)


def _similarity(a: NDArray[np.float32] | None, b: NDArray[np.float32] | None) -> float:
    if a is None or b is None:
        return -1.0
    return pipeline.similarity(a, b)

"""Test-time augmentation of the Dlib network, measured on LFW's identification split (issue #16,
rank-1 goal; docs/benchmarks.md, "Test-time augmentation").

Each photo is detected and its 5 landmarks found once, exactly as the pipeline does (gallery
photos `thorough`, probes not; the face nearest the centre). Each *component* (a chip geometry,
perhaps mirrored) is then embedded through the pipeline's own DeepFace call and kept raw, one
.npy per component, so that any combination of components costs NumPy only.

A combination is a list of groups: each group's components are summed and normalised (as
`Dlib+mirror` sums the chip and its mirror), then the unit vectors of the groups are averaged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from search.bench import normalization
from search.bench.identification import Identification, Split, evaluate_split, lfw_split
from search.engine import pipeline
from search.engine.pipeline import CHIP_SIZE, Pick

# A shifted chip is cut from a larger one of the same scale: at padding 0.25 a 150 px chip spans
# 1.5 face units (100 px each), so a 156 px chip at padding 0.28 holds it with 3 px to spare.
SHIFT_MARGIN = 3


@dataclass(frozen=True)
class Component:
    padding: float = 0.25
    shift: tuple[int, int] = (0, 0)  # pixels (x, y) of the 150 px chip, at most SHIFT_MARGIN
    mirror: bool = False

    @property
    def name(self) -> str:
        dx, dy = self.shift
        moved = f"s{dx:+d}{dy:+d}" if self.shift != (0, 0) else ""
        return f"p{round(self.padding * 100):02d}{moved}{'m' if self.mirror else ''}"


def pair(padding: float = 0.25, shift: tuple[int, int] = (0, 0)) -> list[Component]:
    """A chip and its mirror image: one group of `Dlib+mirror`'s kind."""
    return [Component(padding, shift), Component(padding, shift, mirror=True)]


def component_chip(rgb: NDArray[np.uint8], shape: Any, component: Component) -> NDArray[np.uint8]:
    """The aligned RGB chip of a component (dlib's alignment, as `pipeline.analyze`)."""
    m = pipeline.models()
    if component.shift == (0, 0):
        chip = m.dlib.get_face_chip(rgb, shape, size=CHIP_SIZE, padding=component.padding)
    else:
        size, unit = CHIP_SIZE + 2 * SHIFT_MARGIN, CHIP_SIZE / (1 + 2 * component.padding)
        big = m.dlib.get_face_chip(rgb, shape, size=size,
                                   padding=component.padding + SHIFT_MARGIN / unit)
        x, y = (SHIFT_MARGIN + d for d in component.shift)
        chip = np.asarray(big)[y:y + CHIP_SIZE, x:x + CHIP_SIZE]
    chip = np.asarray(chip, dtype=np.uint8)
    return np.ascontiguousarray(chip[:, ::-1] if component.mirror else chip)


def landmarks(rgb: NDArray[np.uint8], thorough: bool) -> Any | None:
    """The 5-point landmarks of the face `pipeline.analyze` would embed (None: no face)."""
    rects, _, _ = pipeline._detect(rgb, Pick.CENTRE, thorough)
    if not rects:
        return None
    return pipeline.models().landmarks(rgb, rects[pipeline._choose(rects, rgb.shape, Pick.CENTRE)])


def embed_components(images: Path, components: Sequence[Component], folder: Path,
                     on_done: Callable[[int], None] | None = None) -> float:
    """Embed every photo of the split once per component into `folder`/<name>.npy (raw vectors,
    zeros where no face is found); returns the milliseconds of one embedding (one forward)."""
    gallery, _, probes, _ = lfw_split(images)
    vectors = np.zeros((len(components), len(gallery) + len(probes), 128), np.float32)
    spent = 0.0
    with pipeline.models().lock:
        for row, path in enumerate(gallery + probes):
            rgb = pipeline.decode(path.read_bytes())
            shape = landmarks(rgb, thorough=row < len(gallery))
            started = time.perf_counter()
            for k, component in enumerate(components if shape is not None else ()):
                vectors[k, row] = pipeline._represent(component_chip(rgb, shape, component), "Dlib")
            spent += time.perf_counter() - started
            if on_done:
                on_done(row + 1)
    folder.mkdir(parents=True, exist_ok=True)
    for k, component in enumerate(components):
        np.save(folder / f"{component.name}.npy", vectors[k])
    return 1000 * spent / (vectors.shape[1] * max(1, len(components)))


def _unit(x: NDArray[Any]) -> NDArray[np.float64]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.where(norms == 0, 1, norms), dtype=np.float64)


def combine(folder: Path, groups: Sequence[Sequence[Component]]) -> NDArray[np.float32]:
    """The unit mean of each group's normalised sum of raw component vectors."""
    means = [_unit(sum(np.load(folder / f"{c.name}.npy").astype(np.float64) for c in group))
             for group in groups]
    return _unit(sum(means)).astype(np.float32)  # type: ignore[arg-type]


def split_of(vectors: NDArray[np.float32], like: Split, recipe: str) -> Split:
    """Vectors of the split's photos (gallery rows first) as a Split labelled like `like`."""
    n = len(like.gallery)
    return Split(vectors[:n], like.gallery_labels, vectors[n:], like.probe_labels,
                 int((~vectors.any(axis=1)).sum()), recipe)


def measure(split: Split) -> tuple[Identification, normalization.Figures]:
    """Raw-cosine figures and the production S-norm's, as `evaluate_identification` prints."""
    return evaluate_split(split), normalization.measure(split, normalization.PRODUCTION)


SHIFTS = ((-3, -3), (3, 3), (-3, 3), (3, -3))
# The combinations of docs/benchmarks.md, "Test-time augmentation", by name.
COMBINATIONS: dict[str, list[list[Component]]] = {
    "Dlib+mirror (padding 0.25)": [pair()],
    "paddings 0.25 + 0.35": [pair(), pair(0.35)],
    "paddings 0.15 + 0.25": [pair(0.15), pair()],
    "paddings 0.15 + 0.25 + 0.35": [pair(0.15), pair(), pair(0.35)],
    "paddings 0.15 + 0.25 (counted twice) + 0.35": [pair(0.15), pair(), pair(), pair(0.35)],
    "0.25 + its 4 diagonal shifts by 3 px": [pair(), [Component(shift=s) for s in SHIFTS]],
    "paddings 0.15 + 0.25 + 0.35 + 4 shifts": [
        pair(0.15), pair(), pair(0.35), [Component(shift=s) for s in SHIFTS]],
    "0.25 + 4 shifts, each mirrored too": [pair(), [c for s in SHIFTS for c in pair(shift=s)]],
    "paddings 0.15 + 0.25 + 0.35 + 4 shifts mirrored": [
        pair(0.15), pair(), pair(0.35), [c for s in SHIFTS for c in pair(shift=s)]],
}


def forwards(groups: Sequence[Sequence[Component]]) -> int:
    """Network evaluations per face under a combination (its cost is ~this many times one)."""
    return len({component for group in groups for component in group})

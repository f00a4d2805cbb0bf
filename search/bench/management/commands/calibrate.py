"""manage.py calibrate --images LFW_DIR [--embeddings-cache FILE]: rebuild the score calibration.

Fits, on all of LFW's non-mated searches, the table that turns a score into the chance that a
person who is not enrolled reaches it (search.engine.calibration), and writes it where searches
read it (CASEBOUND_CALIBRATION_DIR, fixtures/ by default). With a cache that exists, nothing is
embedded again; with one that does not, the embeddings are written to it for the next run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from portal.config import setting
from search.bench import calibration as bench
from search.bench.evaluation import embed_all
from search.bench.identification import lfw_split
from search.engine import calibration, pipeline


def embeddings(images: Path, cache: Path | None, processes: int) -> bench.Protocol:
    """The LFW identification split's embeddings: from the cache if there is one, else embedded."""
    if cache is not None and cache.is_file():
        return bench.load_cache(cache)
    if not images.is_dir():
        raise CommandError("--images must be the LFW folder of Person_Name/ folders")
    gallery, gallery_labels, probes, probe_labels = lfw_split(images)
    with tqdm(unit="image", disable=None) as bar:
        vectors = embed_all(gallery + probes, processes, lambda n: bar.update(n - bar.n),
                            gallery=len(gallery))
    missing = np.array([v is None for v in vectors])
    matrix = np.stack([v if v is not None else np.zeros(calibration_dimension(vectors), np.float32)
                       for v in vectors])
    labels = gallery_labels + probe_labels
    if cache is not None:
        np.savez(cache, vectors=matrix, missing=missing, labels=np.array(labels),
                 paths=np.array([str(p.relative_to(images)) for p in gallery + probes]),
                 gallery=len(gallery))
    return bench.from_matrix(matrix, labels, len(gallery))


def calibration_dimension(vectors: list[Any]) -> int:
    return int(next(v for v in vectors if v is not None).shape[0])


class Command(BaseCommand):
    help = "Fit the score -> false-match-rate table of the face recipe on LFW's non-mated searches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=Path, required=True, help="LFW image folder")
        parser.add_argument("--embeddings-cache", type=Path, default=None,
                            help="An .npz of the split's embeddings: read if it exists (nothing "
                                 "is embedded), else written")
        parser.add_argument("--output-dir", type=Path, default=None,
                            help="Where to write the table (default: CASEBOUND_CALIBRATION_DIR)")
        parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)

    def handle(self, *args: Any, **options: Any) -> None:
        protocol = embeddings(options["images"], options["embeddings_cache"], options["processes"])
        table = bench.fit_protocol(protocol, recipe=pipeline.MODEL_NAME,
                                   fitted_on="LFW identification protocol, all 5,749 people")
        directory: Path = options["output_dir"] or setting("CALIBRATION_DIR")
        path = calibration.table_path(directory, pipeline.MODEL_NAME)
        path.write_text(json.dumps(table.as_json(), indent=1) + "\n")
        calibration.table_for.cache_clear()
        for size in bench.SIZES:
            lines = ", ".join(f"{t:.1%} at {table.threshold(t, size):.4f}" for t in bench.TARGETS)
            self.stdout.write(f"gallery of {size:,}: {lines}")
        self.stdout.write(json.dumps({"table": str(path), "recipe": table.recipe,
                                      "score_kind": table.score_kind,
                                      "comparisons": table.meta["comparisons"]}))

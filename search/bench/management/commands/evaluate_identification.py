"""manage.py evaluate_identification --images DIR: LFW 1:N identification through the pipeline."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from search.bench import calibration
from search.bench.identification import evaluate, evaluate_protocol


class Command(BaseCommand):
    help = "Rank-1/10 identification and FNIR at FPIR 1% and 0.1% over all LFW people."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=Path, required=True, help="LFW image folder")
        parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--embeddings-cache", type=Path, default=None,
                            help="An .npz of the split's embeddings (see `calibrate`): read "
                                 "instead of embedding LFW again")

    def handle(self, *args: Any, **options: Any) -> None:
        images: Path = options["images"]
        cache: Path | None = options["embeddings_cache"]
        if cache is not None and cache.is_file():
            protocol = calibration.load_cache(cache)
            missing = int(np.load(cache)["missing"].sum())
            result = evaluate_protocol(protocol, missing=missing, images_per_second=0.0)
        else:
            if not images.is_dir():
                raise CommandError("--images must be the LFW folder of Person_Name/ folders")
            with tqdm(unit="image", disable=None) as bar:
                result = evaluate(images, processes=options["processes"],
                                  on_done=lambda n: bar.update(n - bar.n))
        self.stdout.write(f"gallery {result.people} people, {result.probes} mated probes, "
                          f"{result.missing_faces} photos without a detected face")
        self.stdout.write(f"rank-1 {result.rank1:.4f}  rank-10 {result.rank10:.4f}")
        for label, (threshold, fnir) in result.fnir_at_fpir.items():
            self.stdout.write(f"FPIR {label}: threshold {threshold:.4f}, FNIR {fnir:.4f}")
        self.stdout.write("calibration, fitted on even-numbered people, held-out odd people's "
                          "non-mated searches:")
        for row in result.calibration:
            self.stdout.write(f"  gallery {row.gallery_size:>5,}, target {row.target:.1%}: "
                              f"threshold {row.threshold:.4f}, predicted {row.predicted:.4%}, "
                              f"observed {row.observed:.4%} (x{row.ratio:.2f}, "
                              f"{row.searches} searches)")
        self.stdout.write(json.dumps({
            "people": result.people, "probes": result.probes,
            "rank1": round(result.rank1, 4), "rank10": round(result.rank10, 4),
            **{f"fnir_at_fpir_{k.rstrip('%').replace('.', '_')}pct": round(v[1], 4)
               for k, v in result.fnir_at_fpir.items()},
            **{f"threshold_at_fpir_{k.rstrip('%').replace('.', '_')}pct": round(v[0], 4)
               for k, v in result.fnir_at_fpir.items()},
            "images_per_second": round(result.images_per_second, 2),
            "calibration": calibration.as_rows(result.calibration),
        }))

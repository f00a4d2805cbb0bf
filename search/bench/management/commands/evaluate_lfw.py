"""manage.py evaluate_lfw --images DIR --pairs FILE: LFW verification accuracy of the pipeline."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from search.bench.evaluation import evaluate


class Command(BaseCommand):
    help = "Standard LFW 10-fold verification through the production face pipeline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=Path, required=True, help="LFW image folder")
        parser.add_argument("--pairs", type=Path, required=True, help="Pairs file, official format")
        parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)

    def handle(self, *args: Any, **options: Any) -> None:
        images, pairs = options["images"], options["pairs"]
        if not images.is_dir() or not pairs.is_file():
            raise CommandError("--images must be a folder and --pairs a file")
        with tqdm(unit="image", disable=None) as bar:
            result = evaluate(images, pairs, processes=options["processes"],
                              on_done=lambda n: bar.update(n - bar.n))
        for k, (accuracy, threshold) in enumerate(
                zip(result.fold_accuracies, result.thresholds, strict=True), start=1):
            self.stdout.write(f"fold {k:2d}: accuracy {accuracy:.4f} (threshold {threshold:.4f})")
        self.stdout.write(f"images without a detected face: {result.missing_faces}")
        self.stdout.write(json.dumps({
            "pairs": result.pairs,
            "accuracy_mean": round(float(np.mean(result.fold_accuracies)), 4),
            "accuracy_std": round(float(np.std(result.fold_accuracies)), 4),
            "images_per_second": round(result.images / result.seconds, 2),
            "threshold_mean": round(float(np.mean(result.thresholds)), 4),
        }))

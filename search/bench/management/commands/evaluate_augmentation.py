"""manage.py evaluate_augmentation --components DIR [--images LFW_DIR] [--write-cache FILE]: LFW 1:N
identification of the Dlib network under richer test-time augmentation (issue #16, rank-1 goal)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.bench import augmentation
from search.bench.identification import Split, lfw_split, split_save
from search.lfw import default_lfw


class Command(BaseCommand):
    help = ("Rank-1 and FNIR at FPIR 1%/0.1% (raw cosine and the production S-norm) of each "
            "combination of chip paddings, shifts and mirrors in search/bench/augmentation.py; "
            "components not yet in --components are embedded first (one process).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--components", type=Path, required=True,
                            help="folder of per-component .npy files (read, and written)")
        parser.add_argument("--images", type=Path, default=default_lfw(), help="LFW image folder")
        parser.add_argument("--only", action="append", choices=list(augmentation.COMBINATIONS),
                            help="measure only this combination (repeatable)")
        parser.add_argument("--write-cache", type=Path, help="write the last combination as an "
                            "evaluate_identification / calibrate cache")
        parser.add_argument("--recipe", default="Dlib+scales",
                            help="the recipe name written into --write-cache")

    def handle(self, *args: Any, **options: Any) -> None:
        names = options["only"] or list(augmentation.COMBINATIONS)
        combinations = {name: augmentation.COMBINATIONS[name] for name in names}
        folder: Path = options["components"]
        wanted = {c for groups in combinations.values() for group in groups for c in group}
        like = self._labels(options["images"])
        missing = sorted((c for c in wanted if not (folder / f"{c.name}.npy").is_file()),
                         key=lambda c: c.name)
        if missing:
            ms = augmentation.embed_components(options["images"], missing, folder)
            self.stderr.write(f"embedded {len(missing)} components: {ms:.1f} ms per embedding")
        self.stdout.write("| combination | embeddings / face | raw rank-1 | raw FNIR at FPIR 1% "
                          "| S-norm rank-1 | rank-10 | FNIR at FPIR 1% | at 0.1% |")
        self.stdout.write("|---|---|---|---|---|---|---|---|")
        for name, groups in combinations.items():
            split = augmentation.split_of(augmentation.combine(folder, groups), like,
                                          options["recipe"])
            raw, normalized = augmentation.measure(split)
            fnir = normalized.fnir_at_fpir
            self.stdout.write(f"| {name} | {augmentation.forwards(groups)} | {raw.rank1:.4f} | "
                              f"{raw.fnir_at_fpir['1%'][1]:.3f} | {normalized.rank1:.4f} | "
                              f"{normalized.rank10:.4f} | {fnir['1%'][1]:.3f} | "
                              f"{fnir['0.1%'][1]:.3f} |")
        if options["write_cache"]:
            split_save(options["write_cache"], split)
            self.stderr.write(f"{name} written to {options['write_cache']}")

    def _labels(self, images: Path | None) -> Split:
        """The split's labels, with empty vectors (the combination fills them)."""
        if images is None or not images.is_dir():
            raise CommandError("--images must be the LFW folder of Person_Name/ folders")
        _, gallery_labels, _, probe_labels = lfw_split(images)
        return Split(np.zeros((len(gallery_labels), 128), np.float32), np.array(gallery_labels),
                     np.zeros((0, 128), np.float32), np.array(probe_labels))

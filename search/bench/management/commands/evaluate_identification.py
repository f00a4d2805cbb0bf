"""manage.py evaluate_identification --images DIR [--embeddings-cache FILE]: LFW 1:N identification
through the pipeline, before and after score normalization."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from search.bench import normalization
from search.bench.identification import Split, evaluate_split, split_embed, split_load, split_save


def _key(label: str) -> str:
    return label.rstrip("%").replace(".", "_") + "pct"


class Command(BaseCommand):
    help = ("Rank-1/10 identification and FNIR at FPIR 1% and 0.1% over all LFW people, by raw "
            "cosine and by the normalized score the search orders candidates with.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=Path, help="LFW image folder (not needed when "
                            "--embeddings-cache names an existing file)")
        parser.add_argument("--embeddings-cache", type=Path, help="an .npz of the split's "
                            "embeddings: read if it exists, else written after embedding")
        parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--variants", action="store_true", help="also print every "
                            "normalization variant measured (a Markdown table)")

    def handle(self, *args: Any, **options: Any) -> None:
        split, speed = self._split(options["images"], options["embeddings_cache"],
                                   options["processes"])
        before = evaluate_split(split, speed)
        after = normalization.measure(split, normalization.PRODUCTION)
        self.stdout.write(f"gallery {before.people} people, {before.probes} mated probes, "
                          f"{before.missing_faces} photos without a detected face")
        summary: dict[str, Any] = {"people": before.people, "probes": before.probes}
        for name, rank1, rank10, fnir in (
                ("raw cosine", before.rank1, before.rank10, before.fnir_at_fpir),
                (after.variant.name, after.rank1, after.rank10, after.fnir_at_fpir)):
            self.stdout.write(f"{name}: rank-1 {rank1:.4f}  rank-10 {rank10:.4f}")
            for label, (threshold, rate) in fnir.items():
                self.stdout.write(f"  FPIR {label}: threshold {threshold:.4f}, FNIR {rate:.4f}")
        summary.update({"rank1": round(before.rank1, 4), "rank10": round(before.rank10, 4)})
        for label, (threshold, rate) in before.fnir_at_fpir.items():
            summary[f"fnir_at_fpir_{_key(label)}"] = round(rate, 4)
            summary[f"threshold_at_fpir_{_key(label)}"] = round(threshold, 4)
        summary["normalized"] = {
            "variant": after.variant.name, "rank1": round(after.rank1, 4),
            "rank10": round(after.rank10, 4),
            **{f"fnir_at_fpir_{_key(k)}": round(v[1], 4) for k, v in after.fnir_at_fpir.items()},
            **{f"threshold_at_fpir_{_key(k)}": round(v[0], 4) for k, v in after.fnir_at_fpir.items()}}
        summary["images_per_second"] = None if speed is None else round(speed, 2)
        if options["variants"]:
            self._variants(split)
        self.stdout.write(json.dumps(summary))

    def _variants(self, split: Split) -> None:
        self.stdout.write("| variant | re-ranked | rank-1 | rank-10 | FNIR at FPIR 1% | at 0.1% |")
        self.stdout.write("|---|---|---|---|---|---|")
        for row in normalization.compare(split):
            fnir = row.fnir_at_fpir
            self.stdout.write(f"| {row.variant.name} | {row.variant.rerank} | {row.rank1:.4f} | "
                              f"{row.rank10:.4f} | {fnir['1%'][1]:.3f} | {fnir['0.1%'][1]:.3f} |")

    def _split(self, images: Path | None, cache: Path | None, processes: int) -> tuple[Split, float | None]:
        if cache is not None and cache.is_file():
            try:
                return split_load(cache), None
            except (OSError, ValueError, KeyError) as exc:
                raise CommandError(f"--embeddings-cache {cache} is not a readable cache ({exc}); "
                                   "remove it to embed again") from None
        if images is None or not images.is_dir():
            raise CommandError("--images must be the LFW folder of Person_Name/ folders "
                               "(or give an existing --embeddings-cache)")
        with tqdm(unit="image", disable=None) as bar:
            split, speed = split_embed(images, processes, on_done=lambda n: bar.update(n - bar.n))
        if cache is not None:
            split_save(cache, split)
            self.stderr.write(f"embeddings written to {cache}")
        return split, speed

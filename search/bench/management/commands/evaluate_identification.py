"""manage.py evaluate_identification --images DIR [--embeddings-cache FILE] [--plot FILE]: LFW 1:N
identification through the pipeline, before and after score normalization, and how well the
calibration of the normalized score holds on held-out people."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from search.bench import calibration, normalization
from search.bench.identification import Split, evaluate_split, split_for
from search.engine.calibration import SCORE_KIND_COSINE, SCORE_KIND_NORMALIZED, score_text


def _key(label: str) -> str:
    return label.rstrip("%").replace(".", "_") + "pct"


class Command(BaseCommand):
    help = ("Rank-1/10 identification and FNIR at FPIR 1% and 0.1% over all LFW people, by raw "
            "cosine and by the normalized score the search orders candidates with; and the "
            "calibration error of the false-match estimates the search shows.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=Path, help="LFW image folder (not needed when "
                            "--embeddings-cache names an existing file)")
        parser.add_argument("--embeddings-cache", type=Path, help="an .npz of the split's "
                            "embeddings: read if it exists, else written after embedding")
        parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--variants", action="store_true", help="also print every "
                            "normalization variant measured (a Markdown table)")
        parser.add_argument("--plot", type=Path, help="write a PNG of the mated and non-mated "
                            "score distributions, raw and normalized (needs matplotlib)")

    def handle(self, *args: Any, **options: Any) -> None:
        split, speed = split_for(options["images"], options["embeddings_cache"],
                                 options["processes"], report=self.stderr.write)
        before = evaluate_split(split, speed)
        after = normalization.measure(split, normalization.PRODUCTION)
        self.stdout.write(f"gallery {before.people} people, {before.probes} mated probes, "
                          f"{before.missing_faces} photos without a detected face")
        summary: dict[str, Any] = {"people": before.people, "probes": before.probes,
                                   "recipe": split.recipe}
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
        summary["calibration_error"] = self._calibration_error(split, SCORE_KIND_NORMALIZED)
        summary["calibration_error_cosine"] = self._calibration_error(split, SCORE_KIND_COSINE)
        summary["images_per_second"] = None if speed is None else round(speed, 2)
        if options["variants"]:
            self._variants(split)
        if options["plot"]:
            plot_distributions(split, options["plot"])
            self.stderr.write(f"score distributions drawn in {options['plot']}")
        self.stdout.write(json.dumps(summary))

    def _calibration_error(self, split: Split, kind: str) -> list[dict[str, Any]]:
        """The estimates the search shows (each kind's calibration), fitted on the
        even-numbered people and checked on the odd ones."""
        rows = calibration.as_rows(calibration.calibration_error(split, recipe=split.recipe,
                                                                 score_kind=kind))
        self.stdout.write(f"calibration of {kind} on held-out people (observed / predicted "
                          "false-match rate):")
        for row in rows:
            self.stdout.write(f"  gallery {row['gallery_size']:>5}, target {row['target']:.1%}: "
                              f"{score_text(kind, row['threshold'])}, observed "
                              f"{row['observed']:.4f} ({row['ratio']}x)")
        return rows

    def _variants(self, split: Split) -> None:
        # The last column is the ceiling of any re-ranking: a mate outside the raw top K stays out.
        self.stdout.write("| variant | re-ranked | rank-1 | rank-10 | FNIR at FPIR 1% | at 0.1% | "
                          "mates re-ranked |")
        self.stdout.write("|---|---|---|---|---|---|---|")
        for row in normalization.compare(split):
            fnir = row.fnir_at_fpir
            self.stdout.write(f"| {row.variant.name} | {row.variant.rerank} | {row.rank1:.4f} | "
                              f"{row.rank10:.4f} | {fnir['1%'][1]:.3f} | {fnir['0.1%'][1]:.3f} | "
                              f"{row.reranked_mates:.4f} |")


def plot_distributions(split: Split, path: Path) -> None:
    """Histograms of mated and non-mated search scores, raw cosine beside adaptive S-norm."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file only
    from matplotlib import pyplot

    shown = normalization.distributions(split)
    figure, axes = pyplot.subplots(1, len(shown), figsize=(11, 4))
    for axis, (name, scores) in zip(axes, shown.items(), strict=True):
        for kind, values in scores.items():
            axis.hist(values, bins=80, density=True, alpha=0.55,
                      label=f"{kind} ({len(values):,} searches)")
        axis.set_title(name)
        axis.set_xlabel("score (mated: the true match's; non-mated: the best)")
        axis.set_ylabel("density")
        axis.legend()
    figure.suptitle(f"LFW identification, {len(split.gallery):,} people ({split.recipe})")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)

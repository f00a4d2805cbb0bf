"""manage.py calibrate [--recipe NAME] --images LFW_DIR | --embeddings-cache FILE: rebuild the
score calibration of a face recipe.

Fits, on all of LFW's non-mated searches, the tables that turn a score the search orders by into
the chance that a person who is not enrolled reaches it (search.engine.calibration): one on the
normalized score, one on the raw cosine (for galleries smaller than the normalized table's
`min_gallery`); `--score-kind` fits one only. Writes them where searches read them (CASEBOUND_CALIBRATION_DIR,
fixtures/ by default). With a cache that exists, nothing is embedded again; with one that does
not, the embeddings are written to it for the next run (the format of evaluate_identification).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.config import setting
from portal.recipes import registered
from search.bench import calibration as bench
from search.bench.identification import split_for
from search.engine import calibration


class Command(BaseCommand):
    help = ("Fit the score -> false-match-rate tables (normalized and cosine) of a face recipe on "
            "LFW's non-mated searches.")
    # The system checks refuse to start without a current calibration table (casebound.E002):
    # the command that builds one must not be stopped by them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=Path, help="LFW image folder (not needed when "
                            "--embeddings-cache names an existing file)")
        parser.add_argument("--embeddings-cache", type=Path, default=None,
                            help="An .npz of the split's embeddings: read if it exists (nothing "
                                 "is embedded), else written")
        parser.add_argument("--recipe", default=None, help="The face recipe to calibrate "
                            "(default: the cache's, else Dlib+mirror)")
        parser.add_argument("--output-dir", type=Path, default=None,
                            help="Where to write the table (default: CASEBOUND_CALIBRATION_DIR)")
        parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--score-kind", choices=calibration.SCORE_KINDS, default=None,
                            help="Fit only this kind of table (default: both)")

    def handle(self, *args: Any, **options: Any) -> None:
        recipe = options["recipe"]
        if recipe is not None and recipe not in registered():
            raise CommandError(f"No recipe is named {recipe!r}. Registered: "
                               f"{', '.join(registered())}.")
        split, _ = split_for(options["images"], options["embeddings_cache"], options["processes"],
                             recipe, self.stderr.write)
        directory: Path = options["output_dir"] or setting("CALIBRATION_DIR")
        kinds = [options["score_kind"]] if options["score_kind"] else calibration.SCORE_KINDS
        for kind in kinds:
            self._fit(split, kind, directory)

    def _fit(self, split: Any, kind: str, directory: Path) -> None:
        table = bench.fit_protocol(split, recipe=split.recipe, score_kind=kind,
                                   fitted_on="LFW identification protocol, all 5,749 people")
        path = calibration.table_path(directory, split.recipe, kind)
        path.write_text(json.dumps(table.as_json(), indent=1) + "\n")
        calibration.table_for.cache_clear()
        self.stdout.write(f"{kind}:")
        for size in bench.SIZES:
            lines = ", ".join(f"{t:.1%} at {calibration.score_text(kind, table.threshold(t, size))}"
                              for t in bench.TARGETS)
            self.stdout.write(f"gallery of {size:,}: {lines}")
        self.stdout.write(json.dumps({"table": str(path), "recipe": table.recipe,
                                      "score_kind": table.score_kind,
                                      "comparisons": table.meta["comparisons"]}))

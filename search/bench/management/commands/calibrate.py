"""manage.py calibrate [--recipe NAME] --images LFW_DIR | --embeddings-cache FILE: rebuild the
score calibration of a face recipe.

Fits, on all of LFW's non-mated searches, the table that turns the normalized score the search
orders by into the chance that a person who is not enrolled reaches it
(search.engine.calibration), and writes it where searches read it (CASEBOUND_CALIBRATION_DIR,
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
    help = ("Fit the normalized score -> false-match-rate table of a face recipe on LFW's "
            "non-mated searches.")

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

    def handle(self, *args: Any, **options: Any) -> None:
        recipe = options["recipe"]
        if recipe is not None and recipe not in registered():
            raise CommandError(f"No recipe is named {recipe!r}. Registered: "
                               f"{', '.join(registered())}.")
        split, _ = split_for(options["images"], options["embeddings_cache"], options["processes"],
                             recipe, self.stderr.write)
        table = bench.fit_protocol(split, recipe=split.recipe,
                                   fitted_on="LFW identification protocol, all 5,749 people")
        directory: Path = options["output_dir"] or setting("CALIBRATION_DIR")
        path = calibration.table_path(directory, split.recipe)
        path.write_text(json.dumps(table.as_json(), indent=1) + "\n")
        calibration.table_for.cache_clear()
        for size in bench.SIZES:
            lines = ", ".join(f"{t:.1%} at {table.threshold(t, size):.2f}" for t in bench.TARGETS)
            self.stdout.write(f"gallery of {size:,}: {lines}")
        self.stdout.write(json.dumps({"table": str(path), "recipe": table.recipe,
                                      "score_kind": table.score_kind,
                                      "comparisons": table.meta["comparisons"]}))

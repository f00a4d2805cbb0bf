"""manage.py fit_embedding_space: measure real LFW embeddings and save the model that
benchmark_search draws its synthetic galleries from; print real and synthetic figures side by side."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from search.bench.embedding_space import DEFAULT_PATH, EmbeddingSpace, describe
from search.bench.evaluation import embed_all
from search.lfw import default_lfw


class Command(BaseCommand):
    help = "Fit benchmark_search's synthetic embedding space to real LFW embeddings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=Path, default=default_lfw())
        parser.add_argument("--people", type=int, default=600, help="People with 2+ photos used")
        parser.add_argument("--photos-per-person", type=int, default=4)
        parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--out", type=Path, default=DEFAULT_PATH)

    def handle(self, *args: Any, **options: Any) -> None:
        folders = sorted(p for p in options["images"].iterdir()
                         if p.is_dir() and len(list(p.glob("*.jpg"))) >= 2)
        if not folders:
            raise CommandError("--images must be the LFW folder of Person_Name/ folders")
        chosen = folders[:: max(1, len(folders) // options["people"])][: options["people"]]
        paths, labels = [], []
        for label, folder in enumerate(chosen):
            photos = sorted(folder.glob("*.jpg"))[: options["photos_per_person"]]
            paths += photos
            labels += [label] * len(photos)
        vectors = embed_all(paths, options["processes"])
        found = [i for i, v in enumerate(vectors) if v is not None]
        real = np.stack([vectors[i] for i in found]).astype(np.float32)  # type: ignore[misc]
        real_labels = np.array(labels)[found]
        space = EmbeddingSpace.fit(real, real_labels)
        space.save(options["out"])
        rng = np.random.default_rng(0)
        synthetic = space.photos(rng, space.people(rng, len(chosen))[real_labels])
        self.stdout.write(json.dumps({"photos": len(found), "people": len(set(real_labels)),
                                      "real": describe(real, real_labels),
                                      "synthetic": describe(synthetic, real_labels)}))

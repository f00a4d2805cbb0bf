"""manage.py benchmark_detection: what face detection costs and finds on probe photos.

- `--no-face`: large photos without a face (a blurred photo and noise, 2000x2000), the case that
  once ran the CNN over the whole image for 10-13 s;
- the deepface test photos (`--deepface`, 330x512 to 4352x2903, one of them a group selfie): faces
  found per photo and the time, with the group photos listed;
- LFW photos (`--lfw`, 250x250) on which HOG finds nothing: the CNN fallback must still find them.

Times are CPU seconds of this process (the work, whatever else the machine runs) and wall seconds.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandParser
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from search.engine import pipeline
from search.lfw import default_lfw

DEEPFACE = default_lfw().parent / "deepface"


def _timed(rgb: NDArray[np.uint8]) -> tuple[int, str, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    with pipeline.models().lock:
        rects, _, detector = pipeline._detect(rgb, pipeline.Pick.LARGEST, False)
    return len(rects), detector, time.process_time() - cpu, time.perf_counter() - wall


def _no_face_photos(deepface: Path) -> dict[str, NDArray[np.uint8]]:
    rng = np.random.default_rng(1)
    photos = {"noise 2000x2000": rng.integers(0, 255, (2000, 2000, 3), dtype=np.uint8)}
    source = deepface / "couple.jpg"
    if source.exists():  # a real photo blurred until no face is left in it
        blurred = Image.open(source).convert("RGB").resize((2000, 2000))
        photos["blurred photo 2000x2000"] = np.asarray(blurred.filter(ImageFilter.GaussianBlur(40)))
    return photos


class Command(BaseCommand):
    help = "Face detection on probe photos: no-face time, faces found on deepface and LFW photos."
    requires_system_checks: list[str] = []  # pixels only: no database

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-face", action="store_true", help="Only the photos without a face")
        parser.add_argument("--deepface", type=Path, default=DEEPFACE)
        parser.add_argument("--lfw", type=Path, default=default_lfw())
        parser.add_argument("--lfw-photos", type=int, default=1500,
                            help="LFW photos scanned for those HOG misses (0: none)")

    def handle(self, *args: Any, **options: Any) -> None:
        pipeline.warm_up()
        report: dict[str, Any] = {"no_face": self._rows(_no_face_photos(options["deepface"]).items())}
        if not options["no_face"]:
            files = sorted(options["deepface"].glob("*.jpg"))
            report["deepface"] = self._rows((f.name, pipeline.decode(f.read_bytes())) for f in files)
            if options["lfw_photos"]:
                report["lfw_hog_misses"] = self._lfw(options["lfw"], options["lfw_photos"])
        self.stdout.write(json.dumps(report, indent=1))

    def _rows(self, photos: Iterable[tuple[str, NDArray[np.uint8]]]) -> dict[str, Any]:
        rows: dict[str, dict[str, Any]] = {}
        cpus: list[float] = []
        for name, rgb in photos:
            found, detector, cpu, wall = _timed(rgb)
            rows[name] = {"size": f"{rgb.shape[1]}x{rgb.shape[0]}", "faces": found,
                          "detector": detector, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2)}
            self.stdout.write(f"{name:>32}: {rows[name]}")
            cpus.append(cpu)
        return {"photos": rows, "cpu_s_p50": round(statistics.median(cpus), 2),
                "cpu_s_max": round(max(cpus), 2)}

    def _lfw(self, root: Path, limit: int) -> dict[str, Any]:
        """Of the first `limit` LFW photos, those where HOG finds no face: does the CNN?"""
        m = pipeline.models()
        misses = found = 0
        cpus = []
        for path in sorted(root.glob("*/*.jpg"))[:limit]:
            rgb = pipeline.decode(path.read_bytes())
            if len(m.hog.run(rgb, 1, 0.0)[0]):
                continue
            misses += 1
            faces, _, cpu, _ = _timed(rgb)
            found += faces > 0
            cpus.append(cpu)
        return {"photos": limit, "hog_misses": misses, "found_by_cnn_fallback": found,
                "cpu_s_p50": statistics.median(cpus) if cpus else None}

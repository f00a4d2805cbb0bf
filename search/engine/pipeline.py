"""The one face pipeline used by enrollment, search and evaluation alike.

decode (EXIF orientation, RGB, size limits) -> detect (dlib HOG, CNN fallback) -> align (dlib
5-point landmarks into a 150x150 chip) -> embed (DeepFace, model Dlib, detector skip).
Pure computation: no database, no files. Django settings are read only for limits.
"""

from __future__ import annotations

import io
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from portal.config import setting
from portal.errors import ServiceError
from portal.recipes import Recipe, recipe_get
from portal.weights import ensure_weights

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP"}
CHIP_SIZE = 150
CHIP_PADDING = 0.25
# Detection runs on a copy no larger than this: faces in bigger photos are still >100 px wide,
# and detection time grows with pixels.
DETECT_MAX_SIDE = 1600
# The default embedding recipe (portal/recipes.py): DeepFace's Dlib model, mirror-averaged. Each
# agency has its own (Agency.face_recipe); faces made by another recipe are never compared.
MODEL_NAME = "Dlib+mirror"
MIN_SIDE = 64  # pixels; a face needs roughly 40 px to be found at all
# A gallery photo whose chosen face HOG scores below this gets its box from the CNN detector,
# run without upsampling on a copy no larger than CNN_MAX_SIDE (its cost grows with pixels; faces
# in an enrollment photo of that size are still far above its ~80 px minimum).
CNN_BELOW_HOG_SCORE = 1.3  # ~27% of LFW's photos; measured in docs/benchmarks.md
CNN_MAX_SIDE = 800
# When HOG finds nothing, the CNN looks at a copy of at most this many pixels (after its
# upsampling): its cost grows with pixels (a 2000 px photo took 10-13 s at 1600 px), and this
# bound keeps a photo without a face under 2 s, while LFW-size photos keep their 2x upsampling.
CNN_FALLBACK_PIXELS = 520 * 520
# A probe in which HOG found two faces or more is a group photo: the CNN looks again at two
# sizes bounded in pixels (~1 s of CPU more) for the faces HOG misses (docs/benchmarks.md).
# HOG upsampled found no more faces there, at 2-5 s: the missed faces are turned, not small.
GROUP_MIN_FACES = 2
GROUP_CNN_PIXELS = (400 * 400, 520 * 520)
SAME_FACE_OVERLAP = 0.3  # intersection over union above which two boxes are one face


class ImageRejected(ServiceError):
    """A photo that cannot be used, with a stable code and a message that says what to do."""

    status = 400


class Pick(Enum):
    LARGEST = "largest"  # a probe: the most prominent face
    CENTRE = "centre"  # LFW convention: the labelled person is the face nearest the centre


@dataclass
class FaceResult:
    embedding: NDArray[np.float32]
    chip: NDArray[np.uint8]
    box: dict[str, int]
    quality: float
    detector: str
    faces_found: int
    timings: dict[str, float] = field(default_factory=dict)
    # Every face found, largest first (the index an officer picks), and the one embedded.
    boxes: list[dict[str, int]] = field(default_factory=list)
    face_index: int = 0


class FaceIndexOutOfRange(ImageRejected):
    """A face was asked for by its number, and the photo has fewer faces."""

    def __init__(self, index: int, boxes: list[dict[str, int]]) -> None:
        found = f"{len(boxes)} face{'s' if len(boxes) != 1 else ''}"
        super().__init__("face_index_out_of_range",
                         f"face_index {index} was asked for, but the photo has {found} "
                         f"(face_index 0 to {len(boxes) - 1}, largest first). Search one of "
                         "those: the search's faces list them.")
        self.boxes = boxes


def _limits() -> tuple[int, int]:
    return setting("MAX_UPLOAD_BYTES"), setting("MAX_IMAGE_PIXELS")


def open_image(data: bytes) -> Image.Image:
    """Open and check a photo from its header, before any pixel is decoded."""
    max_bytes, max_pixels = _limits()
    if len(data) > max_bytes:
        raise ImageRejected(
            "image_too_large",
            f"The file is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. "
            "Upload a smaller export of the photo.",
            status=413,
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("too_many_pixels", "The photo has far too many pixels to be a real "
                            "photo. Resize it and upload again.", status=413) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageRejected(
            "not_an_image", "The file is not a photo we can read. Upload a JPEG, PNG or WebP image."
        ) from exc
    if image.format not in ALLOWED_FORMATS:
        raise ImageRejected(
            "unsupported_format",
            f"{image.format or 'This'} files are not accepted. Upload a JPEG, PNG or WebP image.",
        )
    width, height = image.size
    if min(width, height) < MIN_SIDE:  # dlib's CNN detector cannot even run on such an image
        raise ImageRejected(
            "image_too_small",
            f"The photo is {width}x{height} pixels; a face search needs at least "
            f"{MIN_SIDE}x{MIN_SIDE}. Upload the original photo rather than a thumbnail.",
        )
    if width * height > max_pixels:
        raise ImageRejected(
            "too_many_pixels",
            f"The photo is {width}x{height} pixels ({width * height / 1e6:.0f} MP); the limit is "
            f"{max_pixels / 1e6:.0f} MP. Resize it and upload again.",
            status=413,
        )
    return image


def decode(data: bytes) -> NDArray[np.uint8]:
    """Bytes to an upright RGB array; raises ImageRejected for anything unusable."""
    image = open_image(data)
    try:
        image = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageRejected(
            "corrupt_image", "The photo is damaged or truncated. Export it again and re-upload."
        ) from exc
    return np.asarray(image, dtype=np.uint8)


class FaceModels:
    """dlib detectors, landmark model and the DeepFace embedding model, loaded once per process."""

    def __init__(self) -> None:
        # dlib's network runs on OpenBLAS, which reads its thread count once, when dlib loads.
        # One thread per process: workers and enrollment pools already run a process per core,
        # and a second thread bought a single embedding only 12% here.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        import dlib
        from deepface import DeepFace

        weights = ensure_weights()
        self.dlib = dlib
        self.hog = dlib.get_frontal_face_detector()
        self.cnn = dlib.cnn_face_detection_model_v1(str(weights / "mmod_human_face_detector.dat"))
        self.landmarks = dlib.shape_predictor(str(weights / "shape_predictor_5_face_landmarks.dat"))
        self.represent: Callable[..., Any] = DeepFace.represent
        # dlib objects are not safe to share between threads (runserver serves with threads).
        self.lock = threading.Lock()


@cache
def models() -> FaceModels:
    """The process-wide model bundle (loaded on first use, ~1 s)."""
    return FaceModels()


def warm_up() -> None:
    """Load every model and run the embedding once, so the first real request is not slow."""
    models()
    embed_chip(np.zeros((CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8))


def _scaled(rgb: NDArray[np.uint8], max_side: int) -> tuple[NDArray[np.uint8], float]:
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    if scale == 1.0:
        return rgb, scale
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    return np.asarray(Image.fromarray(rgb).resize(size)), scale


def _cnn(rgb: NDArray[np.uint8], max_side: int, upsample: int) -> tuple[list[Any], list[float], float]:
    small, scale = _scaled(rgb, max_side)
    found = models().cnn(small, upsample)
    return [d.rect for d in found], [d.confidence for d in found], scale


def _cnn_fallback(rgb: NDArray[np.uint8]) -> tuple[list[Any], list[float], float]:
    """The CNN over a copy bounded in pixels: upsampled 2x when the photo is small enough (LFW
    size), else downscaled without upsampling. Its work is bounded whatever the photo's size."""
    height, width = rgb.shape[:2]
    if 4 * height * width <= CNN_FALLBACK_PIXELS:
        return _cnn(rgb, max(height, width), 1)
    side = max(height, width) * min(1.0, (CNN_FALLBACK_PIXELS / (height * width)) ** 0.5)
    return _cnn(rgb, int(side), 0)


def _more_group_faces(small: NDArray[np.uint8], rects: list[Any],
                      scores: list[float]) -> tuple[list[Any], list[float]]:
    """A group photo searched again by the CNN at two bounded sizes, adding the faces HOG missed
    (turned, cut by the frame, in glasses): the smaller size finds the large faces near the camera,
    the larger one the faces at the back. Each run's work is bounded in pixels."""
    m = models()
    rects, scores = list(rects), list(scores)
    height, width = small.shape[:2]
    for pixels in GROUP_CNN_PIXELS:
        side = int(max(height, width) * min(1.0, (pixels / (height * width)) ** 0.5))
        found, confidences, scale = _cnn(small, side, 0)
        for rect, confidence in zip(found, confidences, strict=True):
            rect = _rescale(m, rect, scale)
            if all(_overlap(rect, other) < SAME_FACE_OVERLAP for other in rects):
                rects.append(rect)
                scores.append(confidence)
    return rects, scores


def _overlap(a: Any, b: Any) -> float:
    """Intersection over union of two boxes."""
    width = max(0, min(a.right(), b.right()) - max(a.left(), b.left()))
    height = max(0, min(a.bottom(), b.bottom()) - max(a.top(), b.top()))
    inter = width * height
    return float(inter / (a.area() + b.area() - inter)) if inter else 0.0


def _detect(rgb: NDArray[np.uint8], pick: Pick,
            thorough: bool) -> tuple[list[Any], list[float], str]:
    m = models()
    small, scale = _scaled(rgb, DETECT_MAX_SIDE)
    upsample = 1 if max(small.shape[:2]) <= 800 else 0
    rects, scores, _ = m.hog.run(small, upsample, 0.0)
    rects, scores, detector = list(rects), list(scores), "dlib_hog"
    if len(rects) == 0:  # HOG misses profile-ish and small faces; the CNN is slower but finds them
        rects, scores, cnn_scale = _cnn_fallback(small)
        rects, detector = [_rescale(m, r, cnn_scale) for r in rects], "dlib_cnn"
    elif len(rects) >= GROUP_MIN_FACES and pick is Pick.LARGEST and not thorough:
        hog_found = len(rects)
        rects, scores = _more_group_faces(small, rects, scores)
        detector = "dlib_hog+cnn" if len(rects) > hog_found else detector
    elif thorough and scores[_choose(rects, small.shape, pick)] < CNN_BELOW_HOG_SCORE:
        # An uncertain HOG box aligns the face worse; on gallery photos the CNN's box is worth its
        # cost (docs/benchmarks.md: the gain in identification is all on the gallery side).
        cnn_rects, cnn_scores, cnn_scale = _cnn(small, CNN_MAX_SIDE, 0)
        if cnn_rects:
            rects = [_rescale(m, r, cnn_scale) for r in cnn_rects]
            scores, detector = cnn_scores, "dlib_cnn"
    return [_rescale(m, r, scale) for r in rects], [float(s) for s in scores], detector


def _largest_first(rects: list[Any]) -> list[int]:
    """Face numbers: largest first, ties left to right, so that face 0 is the default pick."""
    return sorted(range(len(rects)), key=lambda i: (-rects[i].area(), rects[i].left(), rects[i].top()))


def _box(rect: Any) -> dict[str, int]:
    return {"x": max(0, rect.left()), "y": max(0, rect.top()),
            "width": rect.width(), "height": rect.height()}


def _rescale(m: FaceModels, rect: Any, scale: float) -> Any:
    if scale == 1.0:
        return rect
    return m.dlib.rectangle(round(rect.left() / scale), round(rect.top() / scale),
                            round(rect.right() / scale), round(rect.bottom() / scale))


def _choose(rects: list[Any], shape: tuple[int, ...], pick: Pick) -> int:
    if pick is Pick.LARGEST:
        return max(range(len(rects)), key=lambda i: rects[i].area())
    cy, cx = shape[0] / 2, shape[1] / 2
    return min(range(len(rects)), key=lambda i: (rects[i].center().x - cx) ** 2
               + (rects[i].center().y - cy) ** 2)


def _represent(chip: NDArray[np.uint8], deepface_model: str) -> NDArray[np.float32]:
    bgr = np.ascontiguousarray(chip[:, :, ::-1])
    result = models().represent(bgr, model_name=deepface_model, detector_backend="skip",
                                enforce_detection=False, align=False)
    return np.asarray(result[0]["embedding"], dtype=np.float32)


def embed_chip(chip: NDArray[np.uint8], recipe: Recipe | None = None) -> NDArray[np.float32]:
    """The L2-normalised embedding of an aligned RGB chip under a recipe (default: MODEL_NAME).

    `Dlib+mirror` embeds the chip and its mirror image and averages them: on LFW's dev test pairs
    this lifted verification accuracy from 0.984 to 0.987 for twice the embedding time. A recipe
    whose `mirror` is "concat" keeps both halves instead (each normalised, so the cosine of two
    such vectors is the mean of the two halves' cosines).
    """
    recipe = recipe or recipe_get(MODEL_NAME)
    vector = _represent(chip, recipe.deepface_model)
    if recipe.mirror_mode:
        mirrored = _represent(np.ascontiguousarray(chip[:, ::-1]), recipe.deepface_model)
        vector = (vector + mirrored if recipe.mirror_mode == "mean" else np.concatenate(
            [vector / np.linalg.norm(vector), mirrored / np.linalg.norm(mirrored)]))
    if vector.shape[0] != recipe.dimensions:
        # A misconfigured recipe must fail loudly here: stored, its vectors could never be ranked.
        raise ImageRejected("recipe_misconfigured", f"The recipe {recipe.name} says "
                            f"{recipe.dimensions} dimensions, but its model makes "
                            f"{vector.shape[0]}. The operator corrects CASEBOUND_RECIPES.",
                            status=500)
    return vector / np.linalg.norm(vector)


def _align(m: FaceModels, rgb: NDArray[np.uint8], rect: Any, size: int,
           padding: float) -> NDArray[np.uint8]:
    return np.asarray(m.dlib.get_face_chip(rgb, m.landmarks(rgb, rect), size=size,
                                           padding=padding), dtype=np.uint8)


def analyze(rgb: NDArray[np.uint8], pick: Pick = Pick.LARGEST, *, thorough: bool = False,
            recipe: Recipe | None = None, face_index: int | None = None,
            on_stage: Callable[[str], None] | None = None) -> FaceResult | None:
    """Detect, align and embed one face of an RGB photo; None when no face is found.

    `thorough` is for gallery photos (enrollment, opt-outs): the CNN detector redraws the box when
    HOG is unsure of it. Probes keep the fast path: they gain nothing from it (docs/benchmarks.md).
    The chip returned is always the stored 150x150 one; a recipe that wants another geometry
    gets its own chip aligned for the embedding.
    `face_index` picks a face by its number (largest first) instead of `pick`; `on_stage` is told
    when detection ends and embedding starts ("embedding"), for a search's progress.
    """
    recipe = recipe or recipe_get(MODEL_NAME)
    m = models()
    timings: dict[str, float] = {}
    with m.lock:
        started = time.perf_counter()
        rects, scores, detector = _detect(rgb, pick, thorough)
        timings["detect"] = time.perf_counter() - started
        if not rects:
            return None
        order = _largest_first(rects)
        boxes = [_box(rects[i]) for i in order]
        if face_index is not None and face_index >= len(rects):
            raise FaceIndexOutOfRange(face_index, boxes)
        index = order[face_index] if face_index is not None else _choose(rects, rgb.shape, pick)
        if on_stage is not None:
            on_stage("embedding")
        rect = rects[index]
        started = time.perf_counter()
        chip = _align(m, rgb, rect, CHIP_SIZE, CHIP_PADDING)
        own = chip if recipe.embeds_stored_chip else _align(m, rgb, rect, recipe.chip_size,
                                                            recipe.chip_padding)
        timings["align"] = time.perf_counter() - started
        started = time.perf_counter()
        embedding = embed_chip(own, recipe)
        timings["embed"] = time.perf_counter() - started
    return FaceResult(embedding=embedding, chip=chip, box=_box(rect),
                      quality=round(scores[index], 4), detector=detector,
                      faces_found=len(rects), timings=timings, boxes=boxes,
                      face_index=order.index(index))


def embed_for(recipe: Recipe, chip: NDArray[np.uint8],
              source: NDArray[np.uint8] | None) -> NDArray[np.float32]:
    """A stored face's vector under a recipe: from its 150x150 chip when the recipe takes that
    chip, else from its source photo (detected and aligned again, the recipe's own way)."""
    if recipe.embeds_stored_chip:
        with models().lock:
            return embed_chip(chip, recipe)
    if source is None:
        raise ImageRejected("source_photo_missing", f"The recipe {recipe.name} needs the enrolled "
                            "photo, which was not kept for this face.", status=409)
    face = analyze(source, Pick.LARGEST, thorough=True, recipe=recipe)
    if face is None:
        raise ImageRejected("no_face", "No face was found again in the kept photo.", status=422)
    return face.embedding


def encode_jpeg(rgb: NDArray[np.uint8], max_side: int | None = None, quality: int = 90) -> bytes:
    """Re-encode pixels as a fresh JPEG: no EXIF, no GPS, no embedded anything."""
    image = Image.fromarray(rgb)
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def similarity(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
    """Cosine similarity of two embeddings, as the search query computes it (1 - cosine distance)."""
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))

"""Places the face model weights, shipped by the face-recognition-models wheel, where DeepFace looks.

DeepFace downloads missing weights at first use; these machines are offline, so the files must be
in `$DEEPFACE_HOME/.deepface/weights/` before any model is built.
"""

import os
import shutil
from pathlib import Path

from portal.recipes import Recipe

WEIGHT_FILES = (
    "dlib_face_recognition_resnet_model_v1.dat",
    "shape_predictor_5_face_landmarks.dat",
    "mmod_human_face_detector.dat",
)


def weights_dir() -> Path:
    """The folder DeepFace reads weights from, given DEEPFACE_HOME."""
    home = Path(os.environ.get("DEEPFACE_HOME", Path.home()))
    return home / ".deepface" / "weights"


def ensure_weights() -> Path:
    """Copy any missing weight file out of the installed package; return the weights folder."""
    import face_recognition_models

    source = Path(face_recognition_models.__file__).parent / "models"
    target = weights_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name in WEIGHT_FILES:
        if not (target / name).exists():
            shutil.copyfile(source / name, target / name)
    return target


def recipe_installed(recipe: Recipe) -> bool:
    """Whether every weight file the recipe needs is in place (an operator places new ones)."""
    return all((weights_dir() / name).is_file() for name in recipe.weights)

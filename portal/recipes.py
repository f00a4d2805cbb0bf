"""The registry of face recipes: which network embeds a face, and how the face is prepared for it.

A recipe is configuration, not code. Casebound ships two recipes of DeepFace's Dlib network;
an operator adds another DeepFace model by placing its weights under
`$DEEPFACE_HOME/.deepface/weights/` and naming it in `CASEBOUND_RECIPES` (docs/architecture.md,
"Face recipes"). Every face, search and suppression records the recipe that made its vector, and
vectors of different recipes are never compared. Imports no app: the readiness check reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

DLIB_WEIGHTS = ("dlib_face_recognition_resnet_model_v1.dat",)
# The stored chip is made with this geometry: a recipe with the same one re-embeds from the chip.
STORED_CHIP = (150, 0.25)


@dataclass(frozen=True)
class Recipe:
    name: str
    deepface_model: str  # the model_name DeepFace.represent takes
    dimensions: int
    chip_size: int = 150
    chip_padding: float = 0.25
    # Also embed the chip's mirror image: True (or "mean") averages the two vectors, "concat"
    # puts them end to end (a vector of twice the network's dimensions).
    mirror: bool | str = False
    weights: tuple[str, ...] = field(default=())  # files under $DEEPFACE_HOME/.deepface/weights

    @property
    def mirror_mode(self) -> str:
        """"", "mean" or "concat" (anything else is refused by recipe_problems)."""
        if self.mirror is True:
            return "mean"
        return self.mirror or ""

    @property
    def embeds_stored_chip(self) -> bool:
        """Whether a face's stored 150x150 chip is this recipe's input (no source photo needed)."""
        return (self.chip_size, self.chip_padding) == STORED_CHIP


BUILT_IN = (
    Recipe("Dlib+mirror", "Dlib", 128, mirror=True, weights=DLIB_WEIGHTS),
    Recipe("Dlib", "Dlib", 128, weights=DLIB_WEIGHTS),
)


def _configured() -> list[Recipe]:
    extra = settings.CASEBOUND.get("RECIPES") or []
    return [Recipe(**{**entry, "weights": tuple(entry.get("weights", ()))}) for entry in extra]


def registered() -> dict[str, Recipe]:
    """Every recipe this installation knows, by name (the built-in ones, then the configured)."""
    return {recipe.name: recipe for recipe in (*BUILT_IN, *_configured())}


# pgvector stores at most 16,000 dimensions, and its HNSW graph indexes at most 2,000: an agency
# whose recipe is wider is always searched exactly (search/engine/vector_index.py).
VECTOR_MAX_DIMENSIONS = 16_000
GRAPH_MAX_DIMENSIONS = 2_000


def recipe_problems() -> list[str]:
    """What is wrong with the configured recipes, for the system check (empty when nothing)."""
    problems = []
    for recipe in registered().values():
        if not 1 <= recipe.dimensions <= VECTOR_MAX_DIMENSIONS:
            problems.append(f"{recipe.name}: dimensions must lie between 1 and "
                            f"{VECTOR_MAX_DIMENSIONS}, not {recipe.dimensions}.")
        if recipe.mirror_mode not in {"", "mean", "concat"}:
            problems.append(f"{recipe.name}: mirror must be false, true, \"mean\" or \"concat\", "
                            f"not {recipe.mirror!r}.")
    return problems


def recipe_get(name: str) -> Recipe:
    """A registered recipe by name; KeyError for an unknown one."""
    return registered()[name]


def default_recipe_name() -> str:
    """The recipe a new agency starts with (CASEBOUND_DEFAULT_RECIPE, else `Dlib+mirror`)."""
    return str(settings.CASEBOUND.get("DEFAULT_RECIPE") or "Dlib+mirror")


def weight_files() -> list[str]:
    """The weight files every registered recipe needs, for the readiness check."""
    return sorted({name for recipe in registered().values() for name in recipe.weights})

"""System checks of the face pipeline's native parts and of the search settings."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from portal.config import setting


def blas_problem(uses_blas: bool) -> list[CheckMessage]:
    if uses_blas:
        return []
    return [Warning(
        "dlib was built without BLAS: every face embedding takes ~5x longer (about 87 ms instead "
        "of 16 ms here), which cuts enrollment throughput by more than half.",
        hint="Install OpenBLAS's headers (Debian: libopenblas-dev pkg-config), then rebuild dlib: "
        "`.venv/bin/pip install --force-reinstall --no-cache-dir --no-deps dlib` (make build-deps "
        "does the first step).", id="casebound.W002")]


def check_dlib_blas(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """`manage.py check --deploy`: the embedding model's speed depends on how dlib was built."""
    import dlib

    return blas_problem(bool(dlib.DLIB_USE_BLAS))


def check_ef_search(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """CASEBOUND_HNSW_EF_SEARCH must fit what pgvector accepts and what a policy may ask for.

    pgvector refuses an ef_search above its maximum, so every search of an agency with its own
    graph would fail; below the longest candidate list, the graph returns fewer candidates than
    the policy promises.
    """
    from search.engine.vector_index import EF_SEARCH_MAX
    from search.models import MAX_CANDIDATES

    value = int(setting("HNSW_EF_SEARCH"))
    if MAX_CANDIDATES <= value <= EF_SEARCH_MAX:
        return []
    return [Error(
        f"CASEBOUND_HNSW_EF_SEARCH is {value}; it must lie between {MAX_CANDIDATES} (the longest "
        f"candidate list a search policy allows) and {EF_SEARCH_MAX} (pgvector's maximum).",
        hint="Unset it to use the default, 600 (recall@10 0.995 for an agency of 1,000,000 faces; "
        "see docs/benchmarks.md).", id="casebound.E001")]


def calibration_problem() -> str | None:
    """Why the shipped calibration tables of the face recipe (normalized and cosine: a search
    picks one by the gallery's size) cannot be used, or None."""
    from search.engine.calibration import CalibrationMissing, tables_for
    from search.engine.pipeline import MODEL_NAME

    try:
        tables_for(setting("CALIBRATION_DIR"), MODEL_NAME)
    except (CalibrationMissing, ValueError, KeyError) as problem:
        return str(problem)
    return None


def check_calibration(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every search draws the agency's line from the calibration table: refuse to start without."""
    problem = calibration_problem()
    if problem is None:
        return []
    return [Error(problem, hint="Ship fixtures/calibration-*.json with the code, or rebuild it "
                  "with `manage.py calibrate --images LFW_DIR` (docs/benchmarks.md, Calibration).",
                  id="casebound.E002")]


def check_recipes(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A configured recipe the vector column or the embedding cannot honour is refused at start,
    not when its first face is stored."""
    from portal.recipes import recipe_problems

    return [Error(problem, hint="Correct the entry in CASEBOUND_RECIPES (docs/architecture.md, "
                  "'Face recipes').", id="casebound.E003") for problem in recipe_problems()]

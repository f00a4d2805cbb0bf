"""System checks of the face pipeline's native parts."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Warning


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

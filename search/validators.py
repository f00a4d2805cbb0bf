"""Bounds of the numbers an agency admin sets, so that every form, serializer, the admin and the
services refuse the same values with the same message."""

from __future__ import annotations

import math

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

# Three years: the longest any schedule keeps probes or candidates. Far larger values also broke
# the purge (a cutoff date before year 1 raises OverflowError).
MAX_RETENTION_DAYS = 3 * 365
# Gallery records (booking photos) may lawfully be kept for decades; a century is the ceiling.
MAX_GALLERY_RETENTION_DAYS = 100 * 365

RETENTION_DAYS = [MinValueValidator(1), MaxValueValidator(MAX_RETENTION_DAYS)]
GALLERY_RETENTION_DAYS = [MinValueValidator(1), MaxValueValidator(MAX_GALLERY_RETENTION_DAYS)]


def validate_finite(value: float) -> None:
    """NaN passes every comparison (so every Min/Max validator) and infinity is no threshold."""
    if not math.isfinite(value):
        raise ValidationError("Enter a finite number.", code="not_finite")

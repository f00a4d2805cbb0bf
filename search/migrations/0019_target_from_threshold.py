"""Hand-written: each agency's similarity threshold becomes a target false-match rate.

Self-contained on purpose: the shipped calibration table now reads the normalized score, not the
raw cosine these thresholds were set on (and a table is rebuilt at will), so reading an old
threshold through it would be wrong. The mapping is fixed instead, and never looser than the
default:
- the old default (0.90) and anything looser become the new default, 1%: at 0.90 nearly every
  search of a person who is not enrolled showed candidates, which the calibrated line stops;
- a stricter threshold up to 0.95 becomes 0.1%, ten times stricter than the default (at LFW's
  5,749 faces raw 0.96 was about the 1% line);
- above 0.95, the 0.01% floor, the strictest target a policy takes.
Searches already run keep their stored threshold; only the policy changes.
"""

from typing import Any

from django.db import migrations

OLD_DEFAULT = 0.90
STRICT = 0.95
DEFAULT, STRICTER, FLOOR = 0.01, 0.001, 0.0001


def target_for(threshold: float | None) -> float:
    """The target false-match rate that replaces an old raw similarity threshold."""
    if threshold is None or threshold <= OLD_DEFAULT:
        return DEFAULT
    return STRICTER if threshold <= STRICT else FLOOR


def forwards(apps: Any, schema_editor: Any) -> None:
    SearchPolicy = apps.get_model("search", "SearchPolicy")
    for policy in SearchPolicy.objects.filter(similarity_threshold__gt=OLD_DEFAULT):
        policy.target_false_match_rate = target_for(policy.similarity_threshold)
        policy.save(update_fields=["target_false_match_rate"])


class Migration(migrations.Migration):
    dependencies = [("search", "0018_calibrated_line")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

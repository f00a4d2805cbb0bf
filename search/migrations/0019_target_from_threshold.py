"""Hand-written: each agency's similarity threshold becomes a target false-match rate.

The old default (0.90) and anything looser become the new default, 1%: at 0.90 nearly every
search of a person who is not enrolled showed candidates, which is what the calibrated line is
there to stop. An agency that had chosen a stricter threshold keeps at least that strictness: its
threshold is read through the shipped calibration at its gallery's size today, and the target
is the smaller of that rate and 1% (never below the 0.01% floor). A line is never loosened.
Searches already run keep their stored threshold; only the policy changes.
"""

from typing import Any

from django.conf import settings
from django.db import migrations

OLD_DEFAULT = 0.90
DEFAULT, FLOOR = 0.01, 0.0001
RECIPE = "Dlib+mirror"  # the only recipe when this migration was written


def forwards(apps: Any, schema_editor: Any) -> None:
    from search.engine.calibration import CalibrationMissing, table_for

    SearchPolicy = apps.get_model("search", "SearchPolicy")
    Face = apps.get_model("search", "Face")
    stricter = SearchPolicy.objects.filter(similarity_threshold__gt=OLD_DEFAULT)
    try:
        table = table_for(settings.CASEBOUND["CALIBRATION_DIR"], RECIPE)
    except CalibrationMissing:
        table = None
    for policy in stricter:
        faces = Face.objects.filter(agency_id=policy.agency_id, model_name=RECIPE,
                                    removed_at__isnull=True).count()
        rate = (table.false_match_rate(policy.similarity_threshold, max(faces, 1))
                if table is not None else FLOOR)  # no table: the strictest line, never looser
        policy.target_false_match_rate = min(DEFAULT, max(FLOOR, rate))
        policy.save(update_fields=["target_false_match_rate"])


class Migration(migrations.Migration):
    dependencies = [("search", "0018_calibrated_line")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

"""The default excluded jurisdiction: Illinois, after the ACLU v. Clearview BIPA settlement."""

from typing import Any

from django.db import migrations


def exclude_illinois(apps: Any, schema_editor: Any) -> None:
    apps.get_model("agencies", "ExcludedJurisdiction").objects.get_or_create(
        country="US", region="IL",
        defaults={"reason": "Illinois Biometric Information Privacy Act (BIPA): service barred "
                            "after the ACLU v. Clearview AI settlement"})


class Migration(migrations.Migration):
    dependencies = [("agencies", "0006_licensing")]

    operations = [migrations.RunPython(exclude_illinois, migrations.RunPython.noop)]

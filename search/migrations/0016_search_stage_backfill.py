"""Searches run before stages were recorded: done ones are done; no-face ones stopped while
finding faces. Failed ones keep `queued`: where they stopped was not recorded."""

from django.db import migrations


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    search = apps.get_model("search", "Search")
    search.objects.filter(status="done").update(stage="done")
    search.objects.filter(status="no_face").update(stage="finding_faces")


class Migration(migrations.Migration):

    dependencies = [
        ("search", "0015_search_stages_and_faces"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]

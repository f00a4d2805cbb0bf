"""Hand-written: make existing rows fit the opt-out safeguards before the constraint is added.

- Only galleries held under another statutory basis may honour opt-outs; every warrant,
  missing-person, court-order and arrest-record gallery stops honouring them.
- Requests still pending were filed before anyone had to prove the e-mail address: they become
  unconfirmed, so they never reach review, and the daily purge deletes them with their photo.
"""

from typing import Any

from django.db import migrations


def forwards(apps: Any, schema_editor: Any) -> None:
    Gallery = apps.get_model("search", "Gallery")
    OptOutRequest = apps.get_model("search", "OptOutRequest")
    Gallery.objects.exclude(legal_basis="other_statute").update(honours_opt_outs=False)
    OptOutRequest.objects.filter(status="pending").update(status="unconfirmed")


class Migration(migrations.Migration):
    dependencies = [("search", "0005_opt_out_safeguards")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

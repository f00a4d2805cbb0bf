"""`migrate` as the tables' owner, then row-level security on every tenant table.

The application's own role may not change the schema, and policies must cover every table a
migration adds, so both happen here rather than in a migration of their own.
"""

from typing import Any

from django.core.management.commands import migrate

from agencies.tenancy import row_security
from portal.db.owner import as_owner


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        with as_owner(options["database"]):
            super().handle(*args, **options)
            if not (options["plan"] or options["check_unapplied"]):
                row_security.install(options["database"])

"""manage.py backup DIR: the database (pg_dump), the private media and a manifest with checksums
and the audit chain heads, into a new or empty folder (portal/backups.py)."""

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser

from agencies.audit.bypass import PlatformCommand
from portal.backups import BackupError, backup_create


class Command(PlatformCommand):
    help = "Back up the database, the private media and the audit chain heads into DIR."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, metavar="DIR", help="A new or empty folder.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = backup_create(options["folder"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        heads = manifest["audit"]["chain_heads"]
        self.stdout.write(
            f"Backed up to {options['folder']}: {len(manifest['migrations'])} migrations, "
            f"{len(heads)} audit chains ({sum(h['seq'] for h in heads)} events), "
            + ", ".join(f"{name} {f['bytes']} bytes" for name, f in manifest["files"].items())
            + ". Keep the audit signing key apart from it: the backup does not hold it.")

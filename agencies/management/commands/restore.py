"""manage.py restore DIR: check every file of a backup against its manifest, then restore the
database and the private media into this (empty) installation (portal/backups.py)."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from portal.backups import BackupError, backup_restore, backup_verify


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` into an empty database and media folder."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, metavar="DIR", help="The backup's folder.")
        parser.add_argument("--replace", action="store_true", help="Overwrite a database and "
                            "media folder that are not empty (their objects in the backup).")
        parser.add_argument("--check", action="store_true",
                            help="Only verify the backup's checksums; restore nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["check"]:
                manifest = backup_verify(options["folder"])
                self.stdout.write(f"The backup of {manifest['created_at']} is whole: "
                                  f"{len(manifest['files'])} files match their checksums.")
                return
            restored = backup_restore(options["folder"], replace=options["replace"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        # The restored trail says so itself: an auditor who finds events signed in a checkpoint
        # but missing here (a restore of an older backup) finds why, and when.
        audit_record(action=AuditAction.BACKUP_RESTORED, agency=None, actor_name="manage.py restore",
                     details={"backup_created_at": restored.manifest["created_at"],
                              "manifest_sha256": restored.manifest_sha256,
                              "replace": options["replace"]})
        heads = restored.manifest["audit"]["chain_heads"]
        self.stdout.write(
            f"Restored the backup of {restored.manifest['created_at']}: the database "
            f"({len(heads)} audit chains, heads as in the manifest), {restored.media_files} media "
            f"files; {restored.checkpoints}. Run `manage.py verify_audit --checkpoints FILE` next.")

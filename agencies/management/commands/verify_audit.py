"""manage.py verify_audit: check every audit chain; name the first broken event of each.

With --checkpoints, also hold the database to every signed chain head in the checkpoint files,
which shows a rewrite that recomputed the hashes (only the database's owner can make one).
"""

from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError, CommandParser

from agencies.audit import checkpoints
from agencies.audit.bypass import PlatformCommand
from agencies.audit.models import AuditEvent
from agencies.audit.trail import Break, verify_all


class Command(PlatformCommand):
    help = "Verify the hash chains of the audit trail. Exits 1 and names the first broken event."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--checkpoints", type=Path, action="append", default=[],
                            metavar="FILE", help="A checkpoint file (repeatable): verify its "
                            "signatures and that the database still holds every signed head.")
        parser.add_argument("--public-key", action="append", default=[], dest="public_keys",
                            help="A trusted audit public key, base64 as on /transparency/ "
                            "(repeatable; default: the key of CASEBOUND_AUDIT_SIGNING_KEY_FILE).")

    def handle(self, *args: Any, **options: Any) -> None:
        breaks: list[Break | str] = list(verify_all())
        if options["checkpoints"]:
            breaks += self._against_checkpoints(options["checkpoints"], options["public_keys"])
        for problem in breaks:
            self.stderr.write(f"BROKEN {problem}")
        if breaks:
            raise CommandError(f"The audit trail does not verify: {len(breaks)} problem(s).")
        self.stdout.write(f"The audit trail is intact: {AuditEvent.objects.count()} events verified"
                          + (" against the signed checkpoints." if options["checkpoints"] else "."))

    def _against_checkpoints(self, files: list[Path], keys: list[str]) -> list[Break | str]:
        trusted = set(keys) or {self._configured_public_key()}
        signed: list[checkpoints.Signed] = []
        problems: list[Break | str] = []
        for path in files:
            if not path.is_file():
                raise CommandError(f"No checkpoint file at {path}.")
            good, bad = checkpoints.read_checkpoints(path, trusted)
            signed += good
            problems += bad
        if not signed and not problems:
            problems.append("the checkpoint file(s) hold no checkpoint")
        return problems + list(checkpoints.verify_against(signed))

    def _configured_public_key(self) -> str:
        try:
            return checkpoints.public_key_text(checkpoints.signing_key().public_key())
        except ImproperlyConfigured as exc:
            raise CommandError(f"{exc} Or pass --public-key as published on /transparency/.") from exc

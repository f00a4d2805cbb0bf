"""manage.py audit_checkpoint: sign every audit chain's head now (the daily job does the same)."""

from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError, CommandParser

from agencies.audit.bypass import PlatformCommand
from agencies.audit.checkpoints import CHECKPOINT_FILE, audit_checkpoints_sign, checkpoint_dir


class Command(PlatformCommand):
    help = ("Sign the head of every audit chain with the audit key and append the checkpoints to "
            f"{CHECKPOINT_FILE} in the checkpoint folder, which the operator archives.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", type=Path, help="Checkpoint folder (default: "
                            "CASEBOUND_AUDIT_CHECKPOINT_DIR)")

    def handle(self, *args: Any, **options: Any) -> None:
        directory = options["dir"] or checkpoint_dir()
        try:
            signed = audit_checkpoints_sign(directory=directory)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Signed {len(signed)} chain head(s) into {directory / CHECKPOINT_FILE}.")

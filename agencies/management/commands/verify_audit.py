"""manage.py verify_audit: check every audit chain; name the first broken event of each."""

from typing import Any

from django.core.management.base import CommandError

from agencies.audit import verify_all
from agencies.commands import PlatformCommand
from agencies.models import AuditEvent


class Command(PlatformCommand):
    help = "Verify the hash chains of the audit trail. Exits 1 and names the first broken event."

    def handle(self, *args: Any, **options: Any) -> None:
        breaks = verify_all()
        for problem in breaks:
            self.stderr.write(f"BROKEN {problem}")
        if breaks:
            raise CommandError(f"The audit trail is broken in {len(breaks)} chain(s).")
        self.stdout.write(f"The audit trail is intact: {AuditEvent.objects.count()} events verified.")

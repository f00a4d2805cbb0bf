"""manage.py purge_expired [--dry-run]: apply every agency's retention schedule now."""

from typing import Any

from django.core.management.base import CommandParser

from agencies.audit.bypass import PlatformCommand
from search.services.privacy import optouts_housekeep
from search.services.retention import purge_expired


class Command(PlatformCommand):
    help = ("Purge probes, unconfirmed candidates and gallery faces whose retention has ended, "
            "unconfirmed opt-outs, and faces removed by opt-outs past their grace period.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Show what would go; change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        report = purge_expired(dry_run=options["dry_run"])
        verb = "would purge" if options["dry_run"] else "purged"
        if not report.counts:
            self.stdout.write("Nothing has passed its retention period.")
        for agency, counts in sorted(report.counts.items()):
            listed = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
            self.stdout.write(f"{agency}: {verb} {listed}")
        if not options["dry_run"]:
            done = optouts_housekeep()
            self.stdout.write(f"opt-outs: purged {done['unconfirmed_requests']} unconfirmed "
                              f"request(s) and {done['faces']} face(s) past their grace period")
        for agency in report.failed:
            self.stderr.write(f"{agency}: the purge failed and was rolled back; the error is in the "
                              "log and the agency's audit trail. The other agencies were purged.")

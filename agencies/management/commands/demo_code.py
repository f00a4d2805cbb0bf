"""manage.py demo_code: the current second-factor code of the demo users (development only)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from agencies.accounts.mfa import current_code


class Command(BaseCommand):
    help = "Print the current TOTP code shared by the demo users."

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "CASEBOUND_DEMO_ENABLED", False):
            raise CommandError("Demo codes exist only with development settings.")
        self.stdout.write(current_code(settings.CASEBOUND_DEMO_TOTP_SECRET))

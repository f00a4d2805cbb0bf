"""The base of management commands that work across agencies, as the platform operator."""

from typing import Any

from django.core.management.base import BaseCommand

from agencies.row_security import platform_rows


class PlatformCommand(BaseCommand):
    """Runs `handle` in the audited platform bypass of row-level security: the event names the
    command, so the trail shows every time the operator's tools looked at all agencies."""

    def execute(self, *args: Any, **options: Any) -> Any:
        with platform_rows(f"manage.py {self.__module__.rsplit('.', 1)[-1]}"):
            return super().execute(*args, **options)

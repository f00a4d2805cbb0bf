"""The audited bypass of row-level security for platform jobs, and the base of the management
commands that work across agencies as the platform operator."""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand

from portal.db import scope


class PlatformCommand(BaseCommand):
    """Runs `handle` in the audited platform bypass of row-level security: the event names the
    command, so the trail shows every time the operator's tools looked at all agencies."""

    def execute(self, *args: Any, **options: Any) -> Any:
        with platform_rows(f"manage.py {self.__module__.rsplit('.', 1)[-1]}"):
            return super().execute(*args, **options)


@dataclass
class PlatformUse:
    """What a bypass did; `changed` lets a periodic job that found nothing to do stay silent."""

    reason: str
    changed: int = 0


@contextlib.contextmanager
def platform_rows(reason: str, *, actor: Any = None, record_idle: bool = True
                  ) -> Iterator[PlatformUse]:
    """The explicit, audited bypass for platform jobs that must see every agency's rows.

    The event is written on entry, so a job that fails is on record too; a job run every minute
    passes record_idle=False and is recorded only when it changed something.
    """
    from agencies.audit.models import AuditAction
    from agencies.audit.trail import audit_record

    use = PlatformUse(reason)
    if record_idle:
        audit_record(action=AuditAction.PLATFORM_BYPASS, agency=None, actor=actor,
                     details={"reason": reason})
    with scope.rows(scope.EVERYTHING):
        yield use
    if not record_idle and use.changed:
        audit_record(action=AuditAction.PLATFORM_BYPASS, agency=None, actor=actor,
                     details={"reason": reason, "changed": use.changed})

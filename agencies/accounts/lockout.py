"""Sign-in lockout: 5 failures within 15 minutes lock an account until an admin unlocks it.

django-axes counts failures per client row until a success or an unlock resets them, without a
time window when there is no cool-off (and a cool-off would also end the lock by itself). This
handler trims each row, before a new failure is counted, to its failures inside the window, using
axes's failure log; a row can only shrink, so failures before a reset never come back, and an
account that is locked stays locked until an admin unlocks it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.utils import timezone

WINDOW = timedelta(minutes=15)


def forget_failures_outside_window(username: str) -> None:
    rows = list(AccessAttempt.objects.filter(username=username))
    if sum(row.failures_since_start for row in rows) >= settings.AXES_FAILURE_LIMIT:
        return  # locked: only an unlock lifts it
    since = timezone.now() - WINDOW
    for row in rows:
        recent = AccessFailureLog.objects.filter(
            username=username, ip_address=row.ip_address, user_agent=row.user_agent,
            attempt_time__gte=since).count()
        keep = min(row.failures_since_start, recent)
        if keep == 0:
            row.delete()
        elif keep < row.failures_since_start:
            AccessAttempt.objects.filter(pk=row.pk).update(failures_since_start=keep)


class WindowedLockoutHandler(AxesDatabaseHandler):
    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None,
                          **kwargs: Any) -> None:
        username = get_client_username(request, credentials) if request is not None else None
        if username:
            forget_failures_outside_window(username)
        super().user_login_failed(sender, credentials, request, **kwargs)

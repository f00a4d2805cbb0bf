"""One way to show dates and times on every page: ISO 8601 in the time zone in use (UTC unless
an agency's zone is activated), which the page names once with `{% time_zone_note %}`."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


def zone_name() -> str:
    """The name of the time zone times are shown in, e.g. "UTC"."""
    name = timezone.get_current_timezone_name()
    return "UTC" if name in ("UTC", "Etc/UTC") else name


@register.filter
def when(value: datetime | date | None, precision: str = "minutes") -> SafeString | str:
    """A moment as "2026-11-30 14:05" ("…14:05:09" with "seconds"; a date as "2026-11-30"),
    in a machine-readable <time>."""
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        shown = "%Y-%m-%d %H:%M:%S" if precision == "seconds" else "%Y-%m-%d %H:%M"
        return format_html('<time datetime="{}">{}</time>', value.isoformat(timespec="seconds"),
                           local.strftime(shown))
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), value.isoformat())


@register.filter
def day(value: datetime | date | None) -> SafeString | str:
    """Only the date of a moment, in the same time zone as `when`."""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return when(value)


@register.simple_tag
def time_zone_note() -> SafeString:
    """The one sentence a page says about its times."""
    return format_html('<p class="muted time-zone-note">Dates and times are in {} (ISO 8601).</p>',
                       zone_name())

"""The agency admin's usage page: every day of the month with its value, the last 12 months with
searches and invoiced amounts, only the agency's own figures, only for the admin."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from agencies.billing.models import Invoice, UsageEvent, UsageKind
from agencies.billing.selectors import month_start
from tests.fixtures import web_client


def _searches(agency, day, count: int, tag: str) -> None:
    at = timezone.make_aware(datetime.combine(day, time(12)))
    UsageEvent.objects.create(agency=agency, kind=UsageKind.SEARCH, key=f"{tag}:{day}",
                              quantity=count, period=month_start(day), at=at)


def _table(page: str, table_id: str) -> list[list[str]]:
    body = page.split(f'id="{table_id}"')[1].split("</table>")[0]
    return [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in body.split("<tr>")[2:]]


def test_the_usage_page_shows_every_day_of_the_month_with_its_value(cast) -> None:
    first = timezone.localdate().replace(day=1)
    _searches(cast.agency, first, 4, "north")
    _searches(cast.agency, first + timedelta(days=1), 7, "north")
    _searches(cast.other_agency, first, 50, "south")  # another agency's never shows
    page = web_client(cast.admin).get("/usage/").content.decode()
    days = _table(page, "per-day-table")
    assert len(days) == calendar.monthrange(first.year, first.month)[1]
    assert days[0] == [f"{first:%Y-%m-%d}", "4"] and days[1][1] == "7"
    assert {row[1] for row in days[2:]} == {"0"}
    chart = page.split('aria-labelledby="per-day-title"')[1].split("</svg>")[0]
    assert ">4</text>" in chart and ">7</text>" in chart and ">50<" not in chart
    assert "Day of the month" in chart and "Searches" in chart  # both axes are named
    assert chart.count('class="bar-rect"') == len(days)


def test_the_twelve_month_view_shows_searches_and_the_invoiced_amount(cast) -> None:
    this_month = timezone.localdate().replace(day=1)
    last_month = month_start(this_month - timedelta(days=1))
    _searches(cast.agency, last_month, 12, "north")
    _searches(cast.agency, this_month, 3, "north")
    Invoice.objects.create(agency=cast.agency, number="N-LAST", period=last_month, currency="USD",
                           total=Decimal("1234.50"), issued_at=timezone.now())
    Invoice.objects.create(agency=cast.other_agency, number="S-LAST", period=last_month,
                           currency="USD", total=Decimal("999.00"), issued_at=timezone.now())
    page = web_client(cast.admin).get("/usage/").content.decode()
    months = _table(page, "months-table")
    assert len(months) == 12
    assert months[-1][0] == f"{this_month:%Y-%m}" and months[-1][1] == "3"
    assert "not invoiced yet" in months[-1][2]
    assert months[-2] == [f"{last_month:%Y-%m}", "12", "1234.50 USD"]
    assert "999.00" not in page


def test_only_the_agency_admin_reads_the_usage_page(cast) -> None:
    for user in (cast.officer, cast.supervisor, cast.auditor, cast.operator):
        assert web_client(user).get("/usage/").status_code == 403, user


def test_a_phone_gets_the_days_in_rows_of_eleven_on_one_scale(cast) -> None:
    first = timezone.localdate().replace(day=1)
    _searches(cast.agency, first, 8, "north")
    page = web_client(cast.admin).get("/usage/").content.decode()
    phone = page.split('<figure class="chart chart--phone">')[1].split("</figure>")[0]
    rows = phone.split("</svg>")[:-1]
    days = calendar.monthrange(first.year, first.month)[1]
    assert len(rows) == -(-days // 11)
    labels = [re.findall(r'class="bar-label" text-anchor="middle">(\d+)</text>', row) for row in rows]
    assert [day for row in labels for day in row] == [str(d) for d in range(1, days + 1)]
    assert all(len(row) <= 11 for row in labels)
    # One scale for every row, the 8 searches of the 1st setting it, and one width: a short last
    # row is not drawn larger than the others.
    tops = {re.findall(r'class="chart-tick" text-anchor="end" dominant-baseline="middle">(\d+)<',
                       row)[-1] for row in rows}
    assert tops == {"10"}
    assert len({re.search(r'viewBox="([^"]+)"', row).group(1) for row in rows}) == 1
    assert ">8</text>" in rows[0] and "Searches per day this month, Day of the month 1 to 11" in rows[0]

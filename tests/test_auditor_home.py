"""The auditor's home (the month's figures and the latest refusals, linked to the audit trail) and
the oversight report as CSV and PDF downloads."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone
from pypdf import PdfReader

from agencies.audit.models import AuditAction, AuditEvent
from portal.errors import ServiceError
from search.models import Case, CaseStatus, ReviewDecision
from search.services import searching
from search.services.reviews import candidate_review
from tests import photos
from tests.factories import CaseFactory, assigned_case
from tests.fixtures import web_client


def _refuse_a_search(cast) -> Case:
    """A search on a case still awaiting approval: refused by the service, and audited."""
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0202",
                         status=CaseStatus.PENDING)
    with pytest.raises(ServiceError):
        searching.search_create(case=case, user=cast.officer, probe=photos.photo("Colin_Powell", 2))
    return case


def _figure(page: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]*)<', page).group(1)


def test_the_auditor_sees_the_months_figures_and_the_latest_refusals(cast, search) -> None:
    first, second = list(search.candidates.order_by("rank"))[:2]
    candidate_review(candidate=first, reviewer=cast.officer, decision=ReviewDecision.POSSIBLE_LEAD)
    candidate_review(candidate=first, reviewer=cast.supervisor, decision=ReviewDecision.POSSIBLE_LEAD)
    candidate_review(candidate=second, reviewer=cast.officer, decision=ReviewDecision.NOT_A_MATCH)
    candidate_review(candidate=second, reviewer=cast.supervisor, decision=ReviewDecision.NOT_A_MATCH)
    CaseFactory(agency=cast.agency, opened_by=cast.officer, status=CaseStatus.CLOSED,
                closed_at=timezone.now())
    old = CaseFactory(agency=cast.agency, opened_by=cast.officer, status=CaseStatus.CLOSED,
                      closed_at=timezone.now() - timedelta(days=40))
    Case.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=60))
    _refuse_a_search(cast)
    page = web_client(cast.auditor).get("/").content.decode()
    assert f"This month ({timezone.now():%Y-%m}, UTC)" in page
    assert _figure(page, "month-searches") == "1"
    assert _figure(page, "month-confirmed") == "1" and _figure(page, "month-rejected") == "1"
    assert _figure(page, "month-cases-opened") == "3"  # the search's, the closed one, the refused one
    assert _figure(page, "month-cases-closed") == "1"
    event = AuditEvent.objects.get(action=AuditAction.SEARCH_REFUSED)
    refusals = page.split('id="month-refusals"')[1].split("</table>")[0]
    assert "Search refused" in refusals and f"<td>{event.details['code']}</td>" in refusals
    latest = page.split('id="latest-refusals"')[1].split("</table>")[0]
    assert f'id="refusal-{event.seq}"' in latest and "alice" in latest
    assert event.details["reason"] in unescape(latest)
    link = unescape(re.search(r'href="(/audit/\?outcome=refused[^"]*)"', latest).group(1))
    assert f"action=search_refused&date_from={event.at:%Y-%m-%d}" in link
    trail = web_client(cast.auditor).get(link).content.decode()
    rows = trail.split("<tbody>")[1].split("</tbody>")[0]
    assert 'value="search_refused" selected' in trail
    assert "Search refused" in rows and "Search run" not in rows


def test_another_agencys_refusals_and_figures_never_show(cast) -> None:
    other_case = assigned_case(cast.other_agency, cast.other_officer, case_number="S-1",
                               status=CaseStatus.PENDING)
    with pytest.raises(ServiceError):
        searching.search_create(case=other_case, user=cast.other_officer,
                                probe=photos.photo("Colin_Powell", 2))
    page = web_client(cast.auditor).get("/").content.decode()
    assert "Nothing was refused this month." in page and "Nothing has been refused yet." in page
    assert _figure(page, "month-cases-opened") == "0" and "charlie" not in page


def test_other_roles_do_not_get_the_auditors_figures(cast) -> None:
    _refuse_a_search(cast)
    for user in (cast.officer, cast.supervisor, cast.admin):
        page = web_client(user).get("/").content.decode()
        assert 'id="month-figures"' not in page and 'id="latest-refusals"' not in page


def test_the_oversight_report_downloads_as_csv_and_pdf_and_each_export_is_audited(
        cast, search) -> None:
    _refuse_a_search(cast)
    client = web_client(cast.auditor)
    year = timezone.now().year
    assert f"/audit/reports/report.csv?year={year}" in client.get("/audit/reports/").content.decode()
    response = client.get("/audit/reports/report.csv", {"year": year})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert f"casebound-oversight-{year}.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["year", "section", "item", "value"]
    assert [str(year), "summary", "searches run", "1"] in rows
    assert [str(year), "per officer", "alice", "1"] in rows
    assert any(r[1] == "refusals" and r[3] == "1" for r in rows)
    pdf = client.get("/audit/reports/report.pdf", {"year": year})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert f"Casebound oversight report {year}" in text and "North County Sheriff" in text
    assert "searches run" in text and "alice" in text
    exports = AuditEvent.objects.filter(action=AuditAction.EXPORT, actor=cast.auditor)
    assert {e.details["export"] for e in exports} == {"oversight_csv", "oversight_pdf"}


def test_the_report_downloads_are_only_for_audit_readers(cast, search) -> None:
    for user in (cast.officer, cast.supervisor, cast.operator):
        client = web_client(user)
        assert client.get("/audit/reports/report.csv").status_code == 403
        assert client.get("/audit/reports/report.pdf").status_code == 403
    # Another agency's auditor-side reader gets their own (empty) figures, never these.
    rows = web_client(cast.other_admin).get("/audit/reports/report.csv").content.decode()
    assert "alice" not in rows and "searches run,0" in rows


def test_a_wrong_year_is_refused_with_a_400_that_says_what_to_give(cast) -> None:
    client = web_client(cast.auditor)
    for year in ("abc", "20266", "²026"):
        response = client.get("/audit/reports/report.csv", {"year": year})
        assert response.status_code == 400 and b"four digits" in response.content
        assert client.get("/audit/reports/report.pdf", {"year": year}).status_code == 400
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()

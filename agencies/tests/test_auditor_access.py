"""The auditor reads the agency's trail (API, page, CSV) and reports; nobody else's."""

from __future__ import annotations

from agencies.audit.models import AuditAction, AuditEvent
from agencies.audit.trail import audit_record
from search.models import Search, SearchStatus
from tests.factories import assigned_case
from tests.fixtures import api_client, web_client


def _case_trail(cast):
    case = assigned_case(cast.agency, cast.officer, case_number="2026-55")
    audit_record(action=AuditAction.CASE_OPENED, agency=cast.agency, actor=cast.officer, obj=case,
                 details={"case_id": case.pk, "case_number": case.case_number})
    audit_record(action=AuditAction.SEARCH_RUN, agency=cast.agency, actor=cast.officer,
                 details={"case_id": case.pk, "case_number": case.case_number})
    audit_record(action=AuditAction.SIGN_IN, agency=cast.agency, actor=cast.supervisor)
    audit_record(action=AuditAction.SIGN_IN, agency=cast.other_agency, actor=cast.other_officer)
    return case


def test_the_auditor_lists_only_their_agencys_events(cast) -> None:
    _case_trail(cast)
    body = api_client(cast.auditor).get("/api/v1/audit/").json()
    assert body["count"] == 3
    assert {e["actor"] for e in body["results"]} == {"alice", "bob"}


def test_the_trail_filters_by_officer_action_and_case(cast) -> None:
    case = _case_trail(cast)
    client = api_client(cast.auditor)
    assert client.get("/api/v1/audit/?actor=bob").json()["count"] == 1
    assert client.get("/api/v1/audit/?action=search_run").json()["count"] == 1
    assert client.get(f"/api/v1/audit/?case={case.pk}").json()["count"] == 2
    assert client.get("/api/v1/audit/?case_number=2026-55").json()["count"] == 2
    assert client.get("/api/v1/audit/?date_from=2000-01-01&date_to=2000-12-31").json()["count"] == 0


def test_officers_cannot_read_the_trail(cast) -> None:
    assert api_client(cast.officer).get("/api/v1/audit/").status_code == 403
    browser = web_client(cast.officer)
    assert browser.get("/audit/").status_code == 403


def test_another_agencys_event_answers_404(cast) -> None:
    _case_trail(cast)
    theirs = AuditEvent.objects.get(agency=cast.other_agency)
    assert api_client(cast.auditor).get(f"/api/v1/audit/{theirs.pk}/").status_code == 404


def test_the_csv_export_has_the_filtered_events_and_is_itself_audited(cast) -> None:
    _case_trail(cast)
    browser = web_client(cast.auditor)
    response = browser.get("/audit/export.csv?action=search_run")
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("seq,at_utc,actor,action")
    assert len(lines) == 2 and "search_run" in lines[1]
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, actor=cast.auditor).exists()


def test_the_audit_page_shows_events(cast) -> None:
    _case_trail(cast)
    browser = web_client(cast.auditor)
    page = browser.get("/audit/?actor=alice").content.decode()
    assert "Search run" in page and "2026-55" in page


def test_the_report_counts_searches_leads_and_refusals(cast) -> None:
    case = _case_trail(cast)
    for _ in range(2):
        Search.objects.create(agency=cast.agency, case=case, requested_by=cast.officer,
                              probe="probes/x.jpg", status=SearchStatus.DONE)
    audit_record(action=AuditAction.SEARCH_REFUSED, agency=cast.agency, actor=cast.officer,
                 outcome="refused", details={"code": "case_not_approved"})
    from django.utils import timezone

    from search.selectors import oversight_report

    report = oversight_report(agency=cast.agency, year=timezone.now().year)
    assert report["searches"] == 2
    assert report["per_officer"] == [{"officer": "alice", "count": 2}]
    assert report["per_offence"] == [{"offence": "Robbery", "count": 2}]
    assert report["refusals"] == [{"code": "case_not_approved", "count": 1}]
    browser = web_client(cast.auditor)
    page = browser.get("/audit/reports/").content.decode()
    assert 'id="searches-total">2<' in page

"""The audit trail's filter says what is wrong with it instead of silently dropping a part of it."""

from __future__ import annotations

from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from tests.fixtures import api_client, web_client


def test_a_reversed_date_range_is_named_on_the_page_the_export_and_the_api(cast) -> None:
    audit_record(action=AuditAction.SETTINGS_CHANGED, agency=cast.agency, actor=cast.admin)
    query = {"date_from": "2026-11-30", "date_to": "2026-11-01"}
    page = web_client(cast.auditor).get("/audit/", query).content.decode()
    assert "The filter is not right" in page and "swap them" in page
    assert "settings_changed" not in page.split("<table", 1)[1]  # no events under a wrong filter
    export = web_client(cast.auditor).get("/audit/export.csv", query)
    assert export.status_code == 400 and "swap them" in export.content.decode()
    assert api_client(cast.auditor).get("/api/v1/audit/", query).status_code == 400


def test_a_case_id_that_is_not_a_number_is_named(cast) -> None:
    page = web_client(cast.auditor).get("/audit/", {"case": "abc"}).content.decode()
    assert "A case id is a number." in page
    assert api_client(cast.auditor).get("/api/v1/audit/", {"case": "abc"}).status_code == 400


def test_a_right_filter_still_filters(cast) -> None:
    audit_record(action=AuditAction.SETTINGS_CHANGED, agency=cast.agency, actor=cast.admin)
    page = web_client(cast.auditor).get("/audit/", {"action": "settings_changed"}).content.decode()
    assert "The filter is not right" not in page and "Settings changed" in page
    assert "Settings changed" in web_client(cast.auditor).get("/audit/").content.decode()

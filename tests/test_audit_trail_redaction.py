"""The agency admin reads the audit trail but sees no search results: a case's events do not hand
them which enrolled face was a candidate (they browse the galleries, so a face id names a person).
The auditor sees every detail; the chain keeps them all."""

from __future__ import annotations

import csv
import io

from agencies.audit.models import AuditAction
from search.models import Search
from tests.fixtures import api_client, search, web_client  # noqa: F401  (fixture)


def _candidate_image_viewed(cast, search: Search) -> None:  # noqa: F811
    assert api_client(cast.admin).get(f"/api/v1/searches/{search.pk}/").status_code == 403
    officer = api_client(cast.officer)
    assert officer.get(f"/images/searches/{search.pk}/candidates/1/").status_code == 200


def _api_details(user, action: str) -> list[dict]:
    events = api_client(user).get("/api/v1/audit/", {"action": action})
    assert events.status_code == 200, events.content
    return [row["details"] for row in events.json()["results"]]


def test_admin_cannot_learn_who_was_a_candidate_in_a_case(cast, search: Search) -> None:  # noqa: F811
    _candidate_image_viewed(cast, search)
    shown = [d for d in _api_details(cast.admin, AuditAction.IMAGE_VIEWED)
             if d.get("image") == "candidate"]
    assert shown and all(d["case_number"] == search.case.case_number for d in shown)
    assert not [d for d in shown if {"face_id", "gallery_id", "subject_id"} & d.keys()], shown
    export = b"".join(web_client(cast.admin).get("/audit/export.csv").streaming_content).decode()
    rows = [row for row in csv.reader(io.StringIO(export)) if row[3] == AuditAction.IMAGE_VIEWED]
    assert rows and not [row for row in rows if "face_id" in row[8]]
    page = web_client(cast.admin).get("/audit/").content.decode()
    assert "face_id" not in page and search.case.case_number in page


def test_the_auditor_sees_every_detail(cast, search: Search) -> None:  # noqa: F811
    _candidate_image_viewed(cast, search)
    shown = [d for d in _api_details(cast.auditor, AuditAction.IMAGE_VIEWED)
             if d.get("image") == "candidate"]
    assert shown and all("face_id" in d for d in shown)

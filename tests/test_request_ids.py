"""A request id follows a search from the web request into the worker's log and its audit events;
a request without one (or with a malformed one) gets one made here."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from agencies.audit.models import AuditAction, AuditEvent
from agencies.audit.trail import verify_chain
from search.models import CaseStatus, Search, SearchStatus
from search.selectors import policy_of
from search.services.files import jpeg_file
from search.tasks import recover_orphaned_work
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import ARTIFACTS, api_client, enroll_people, wait_for

GENERATED = re.compile(r"[0-9a-f]{32}")


def _worker_lines(request_id: str) -> list[dict[str, Any]]:
    """The JSON lines of the test search worker's log that carry `request_id`."""
    lines = []
    for raw in (ARTIFACTS / "celery-searches.log").read_text(errors="replace").splitlines():
        if request_id in raw and raw.startswith("{"):
            lines.append(json.loads(raw))
    return lines


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_search_carries_the_clients_request_id_into_the_worker_log_and_the_audit_trail(
        cast: Any, celery_worker: Any) -> None:
    enroll_people(GalleryFactory(agency=cast.agency), count=2)
    case = assigned_case(cast.agency, cast.officer)
    request_id = f"trace-{uuid.uuid4().hex}"
    probe = SimpleUploadedFile("probe.jpg", photos.photo("Ariel_Sharon", 2), content_type="image/jpeg")
    response = api_client(cast.officer).post("/api/v1/searches/", {"case": case.pk, "probe": probe},
                                             format="multipart", HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 202, response.content
    assert response["X-Request-ID"] == request_id
    search_id = response.json()["id"]
    assert Search.objects.get(pk=search_id).request_id == request_id  # for a run queued again
    wait_for(lambda: Search.objects.get(pk=search_id).status == SearchStatus.DONE)

    finished = wait_for(lambda: [line for line in _worker_lines(request_id)
                                 if line["event"] == "search finished"])
    assert finished[0]["search_id"] == search_id and finished[0]["status"] == "done"
    assert finished[0]["task"] == "search.tasks.run_search" and finished[0]["task_id"]
    event = AuditEvent.objects.get(action=AuditAction.SEARCH_RUN, object_id=str(search_id))
    assert event.request_id == request_id
    assert verify_chain(cast.agency.pk) is None  # older events without an id verify as before
    trail = api_client(cast.auditor).get("/api/v1/audit/", {"page_size": 200}).json()["results"]
    assert [row["request_id"] for row in trail if row["id"] == event.pk] == [request_id]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_search_given_back_after_its_worker_died_keeps_the_officers_request_id(
        cast: Any, celery_worker: Any) -> None:
    """The recovery task runs with no request of its own (beat, or a starting worker); the run it
    queues again must still be joined to the officer's request, in the log and the audit trail."""
    case = assigned_case(cast.agency, cast.officer)
    request_id = f"trace-{uuid.uuid4().hex}"
    # As a dead worker leaves it: claimed by a process with no heartbeat, its message gone.
    search = Search.objects.create(
        agency=cast.agency, case=case, requested_by=cast.officer, request_id=request_id,
        probe=jpeg_file(photos.photo("Ariel_Sharon", 2)), policy=policy_of(cast.agency).snapshot(),
        status=SearchStatus.RUNNING, attempts=1, claimed_by="gone-host:1:000000000000")
    # Closed meanwhile: the second run is refused when it claims the search, which it audits.
    type(case).objects.filter(pk=case.pk).update(status=CaseStatus.CLOSED)
    recover_orphaned_work.delay()
    wait_for(lambda: Search.objects.get(pk=search.pk).is_finished, timeout=90)

    search.refresh_from_db()
    assert (search.status, search.error_code, search.attempts) == ("failed", "case_closed", 2)
    refused = AuditEvent.objects.get(action=AuditAction.SEARCH_REFUSED, object_id=str(search.pk))
    assert refused.request_id == request_id
    finished = wait_for(lambda: [line for line in _worker_lines(request_id)
                                 if line["event"] == "search finished"])
    assert finished[0]["search_id"] == search.pk and finished[0]["task"] == "search.tasks.run_search"
    # The recovery's own audit event is the platform's, not the officer's request.
    recoveries = AuditEvent.objects.filter(action=AuditAction.PLATFORM_BYPASS,
                                           details__reason__startswith="give back work")
    assert recoveries.exists() and request_id not in recoveries.values_list("request_id", flat=True)
    assert verify_chain(cast.agency.pk) is None


@pytest.mark.django_db
def test_a_request_without_an_id_gets_a_new_one_in_the_response(client: Client) -> None:
    first, second = client.get("/healthz"), client.get("/accounts/login/")
    assert GENERATED.fullmatch(first["X-Request-ID"])
    assert GENERATED.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
@pytest.mark.parametrize("offered", ["a b", "x" * 65, '{"forged": "line"}', "id\nlevel=error", ""])
def test_a_malformed_request_id_is_replaced_not_echoed(client: Client, offered: str) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=offered)
    assert response.status_code == 200
    assert GENERATED.fullmatch(response["X-Request-ID"])


@pytest.mark.django_db
def test_an_audit_event_written_by_a_request_stores_its_id_and_the_chain_still_verifies(
        cast: Any) -> None:
    from tests.fixtures import web_client

    client = web_client(cast.officer)
    case = assigned_case(cast.agency, cast.officer)
    response = client.post(f"/cases/{case.pk}/searches/", {"probe": SimpleUploadedFile(
        "probe.jpg", photos.blank_photo(), content_type="image/jpeg")}, HTTP_X_REQUEST_ID="page-1")
    assert response["X-Request-ID"] == "page-1"
    event = AuditEvent.objects.filter(chain=cast.agency.pk).order_by("-seq").first()
    assert event is not None and event.request_id == "page-1"
    assert verify_chain(cast.agency.pk) is None
    # The id is part of what the hash covers: changing it is a break like any other field's.
    event.request_id = "someone-else"
    from agencies.audit.trail import event_digest
    assert event_digest(event) != event.hash

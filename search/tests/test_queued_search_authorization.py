"""A queued search runs only if it is still authorized when a worker claims it, and the quota
counts the searches in flight. Through the real API, on the real Celery worker."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone
from guardian.shortcuts import remove_perm

from agencies.audit.models import AuditAction, AuditEvent
from agencies.billing.metering import meter
from agencies.billing.models import License, LicenseStatus, Plan, UsageEvent, UsageKind
from search.models import Candidate, Case, Search, SearchStatus
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import api_client, enroll_people, wait_for, web_client

PROBE = ("Colin_Powell", 2)


def _post_search(user: Any, case_id: int) -> Any:
    probe = SimpleUploadedFile("probe.jpg", photos.photo(*PROBE), content_type="image/jpeg")
    return api_client(user).post("/api/v1/searches/", {"case": case_id, "probe": probe},
                                 format="multipart")


def _finished(user: Any, search_id: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = api_client(user).get(f"/api/v1/searches/{search_id}/").json()
        return body if body["status"] not in ("queued", "running") else None

    return wait_for(check, timeout=90)


def enroll_people_in_a_gallery(cast: Any) -> None:
    enroll_people(GalleryFactory(agency=cast.agency), count=2)


def _suspend_license(cast: Any, case: Case) -> None:
    License.objects.filter(agency=cast.agency).update(status=LicenseStatus.SUSPENDED,
                                                      suspension_reason="unpaid invoices")


def _expire_case(cast: Any, case: Case) -> None:
    Case.objects.filter(pk=case.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def _close_case(cast: Any, case: Case) -> None:
    assert api_client(cast.officer).post(f"/api/v1/cases/{case.pk}/close/").status_code == 200


def _unassign_officer(cast: Any, case: Case) -> None:
    remove_perm("search.search_in_case", cast.officer, case)


def _use_up_quota(cast: Any, case: Case) -> None:
    Plan.objects.filter(licenses__agency=cast.agency).update(monthly_search_quota=1)
    meter(agency=cast.agency, kind=UsageKind.SEARCH, key="search:elsewhere", day=date.today())


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change, code, status", [
    (_suspend_license, "license_suspended", 402),
    (_expire_case, "authorization_expired", 409),
    (_close_case, "case_closed", 409),
    (_unassign_officer, "not_assigned", 403),
    (_use_up_quota, "quota_exceeded", 402),
])
def test_a_search_queued_before_its_authorization_ended_fails_on_the_worker(
        cast, celery_worker, change: Callable[[Any, Case], None], code: str, status: int) -> None:
    enroll_people_in_a_gallery(cast)
    case = assigned_case(cast.agency, cast.officer)
    # The message reaches the worker when the request's transaction commits: here, after the
    # change, as when the change lands while the search waits in the queue.
    with transaction.atomic():
        queued = _post_search(cast.officer, case.pk)
        assert queued.status_code == 202, queued.content
        change(cast, case)
    # The auditor reads the outcome: an unassigned officer may no longer open the case's results.
    body = _finished(cast.auditor, queued.json()["id"])
    refused = _post_search(cast.officer, case.pk)  # what the API now says to a new request
    assert (refused.status_code, refused.json()["code"]) == (status, code)
    assert body["status"] == "failed"
    assert (body["error_code"], body["error"]) == (code, refused.json()["detail"])
    assert body["candidates"] == [] and not Candidate.objects.filter(search_id=body["id"]).exists()
    assert not UsageEvent.objects.filter(key=f"search:{body['id']}").exists()  # not billed
    event = AuditEvent.objects.get(action=AuditAction.SEARCH_REFUSED, object_type="search",
                                   object_id=str(body["id"]))
    assert event.details["code"] == code and event.actor_id == cast.officer.pk


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_search_still_authorized_when_claimed_runs_and_is_billed_once(cast, celery_worker) -> None:
    enroll_people_in_a_gallery(cast)
    case = assigned_case(cast.agency, cast.officer)
    body = _finished(cast.officer, _post_search(cast.officer, case.pk).json()["id"])
    assert body["status"] == "done", body
    assert body["candidates"][0]["subject"]["reference"] == PROBE[0]
    assert UsageEvent.objects.filter(key=f"search:{body['id']}").count() == 1


def _refusing_quota(cast: Any, quota: int) -> None:
    Plan.objects.filter(licenses__agency=cast.agency).update(monthly_search_quota=quota)


def test_queued_searches_count_against_the_quota(cast) -> None:
    _refusing_quota(cast, 2)
    case = assigned_case(cast.agency, cast.officer)
    codes = [_post_search(cast.officer, case.pk).status_code for _ in range(3)]
    assert codes == [202, 202, 402]
    assert Search.objects.filter(agency=cast.agency).count() == 2
    refusal = AuditEvent.objects.get(action=AuditAction.SEARCH_REFUSED)
    assert refusal.details["code"] == "quota_exceeded"


def test_a_failed_search_gives_its_unit_of_quota_back(cast) -> None:
    _refusing_quota(cast, 1)
    case = assigned_case(cast.agency, cast.officer)
    first = _post_search(cast.officer, case.pk).json()["id"]
    Search.objects.filter(pk=first).update(status=SearchStatus.FAILED)
    assert _post_search(cast.officer, case.pk).status_code == 202


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_cannot_pass_a_quota_together(cast, celery_worker) -> None:
    requests = 4
    _refusing_quota(cast, requests - 2)
    case = assigned_case(cast.agency, cast.officer)
    start, codes = threading.Barrier(requests), []

    def post() -> None:
        try:
            start.wait()
            codes.append(_post_search(cast.officer, case.pk).status_code)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=post) for _ in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(codes) == [202, 202, 402, 402]
    assert Search.objects.filter(agency=cast.agency).count() == requests - 2
    # Let the worker finish them: the tables are emptied after the test.
    wait_for(lambda: not Search.objects.filter(status__in=("queued", "running")).exists(), 90)


def test_the_search_form_shares_the_apis_rate_limit(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    api = api_client(cast.officer)
    assert {api.post("/api/v1/searches/", {"case": 0}).status_code for _ in range(29)} == {400}
    page = web_client(cast.officer)
    assert page.post(f"/cases/{case.pk}/searches/").status_code == 302  # the 30th: no photo chosen
    limited = page.post(f"/cases/{case.pk}/searches/",
                        {"probe": SimpleUploadedFile("probe.jpg", photos.photo(*PROBE),
                                                     content_type="image/jpeg")})
    assert limited.status_code == 429
    text = limited.content.decode()
    assert "too many searches" in text and "seconds, then search again" in text
    assert f"<h1>Case {case.case_number}</h1>" in text
    assert not Search.objects.exists()
    assert api.post("/api/v1/searches/", {"case": 0}).status_code == 429


def test_the_search_form_alone_is_rate_limited(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    page = web_client(cast.officer)
    codes = [page.post(f"/cases/{case.pk}/searches/").status_code for _ in range(31)]
    assert 429 not in codes[:30] and codes[30] == 429

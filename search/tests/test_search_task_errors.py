"""What the search task does when the search cannot run as planned, on the real Celery worker:
a database that goes away hands the search back for the retry, any other error fails the search
with a reason the officer can read, and a search that no longer exists ends the task cleanly."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from agencies.billing.models import UsageEvent
from search.models import Face, Search, SearchStatus
from search.selectors import policy_of
from search.services.files import jpeg_file
from search.tasks import run_search
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import ARTIFACTS, api_client, enroll_people, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
PROBE = ("Colin_Powell", 2)


def _queued_search(cast: Any, probe: Any) -> Search:
    """A queued search as `search_create` leaves it, but not yet sent to the worker."""
    case = assigned_case(cast.agency, cast.officer)
    return Search.objects.create(agency=cast.agency, case=case, requested_by=cast.officer,
                                 policy=policy_of(cast.agency).snapshot(), probe=probe)


def _finished(cast: Any, search_id: int) -> dict[str, Any]:
    """The search as the officer reads it through the API, once the worker has finished it."""
    def check() -> dict[str, Any] | None:
        body = api_client(cast.officer).get(f"/api/v1/searches/{search_id}/").json()
        return body if body["status"] not in ("queued", "running") else None

    return wait_for(check, timeout=90)


@contextlib.contextmanager
def _faces_locked() -> Iterator[threading.Event]:
    """Lock the face table in another connection until the event is set (or the block ends). A worker
    waits for it when it ranks the faces: after its claim has committed, so the search is
    running when the worker's connection is cut."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {Face._meta.db_table} IN ACCESS EXCLUSIVE MODE")
                holding.set()
                release.wait(timeout=120)
        finally:
            connection.close()  # this thread's own connection

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(timeout=30)
    try:
        yield release
    finally:
        release.set()
        holder.join(timeout=30)


def _terminate_the_waiting_worker() -> None:
    """Cut the worker's database connection while it waits for the lock, as a failover does."""
    def waiting() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND pid <> pg_backend_pid()")
            return [row[0] for row in cursor.fetchall()]

    pids = wait_for(waiting, timeout=60)
    assert len(pids) == 1, pids
    assert Search.objects.get().status == SearchStatus.RUNNING  # claimed and committed
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pids[0]])
        assert cursor.fetchone() == (True,)


def test_a_lost_database_connection_hands_the_search_back_and_the_retry_finishes_it(
        cast, celery_worker) -> None:
    enroll_people(GalleryFactory(agency=cast.agency), count=2)
    search = _queued_search(cast, jpeg_file(photos.photo(*PROBE)))
    with _faces_locked() as release:
        run_search.delay(search.pk, cast.agency.pk)
        _terminate_the_waiting_worker()
        release.set()
    body = _finished(cast, search.pk)
    assert body["status"] == "done", body
    assert body["candidates"][0]["subject"]["reference"] == PROBE[0]
    search.refresh_from_db()
    assert search.attempts == 2  # claimed, handed back, claimed again by the retry
    assert UsageEvent.objects.filter(key=f"search:{search.pk}").count() == 1


def test_a_damaged_stored_probe_fails_the_search_with_the_services_reason(cast, celery_worker) -> None:
    search = _queued_search(cast, jpeg_file(photos.photo(*PROBE)[:400]))  # a truncated file
    run_search.delay(search.pk, cast.agency.pk)
    body = _finished(cast, search.pk)
    assert (body["status"], body["error_code"]) == ("failed", "not_an_image")
    assert "not a photo we can read" in body["error"]
    search.refresh_from_db()
    assert search.status == SearchStatus.FAILED and search.finished_at is not None
    assert not UsageEvent.objects.filter(key=f"search:{search.pk}").exists()  # not billed


def test_an_unexpected_error_fails_the_search_and_names_it_for_the_administrator(
        cast, celery_worker) -> None:
    search = _queued_search(cast, "probes/gone-from-the-disk.jpg")  # the file is missing
    run_search.delay(search.pk, cast.agency.pk)
    body = _finished(cast, search.pk)
    assert (body["status"], body["error_code"]) == ("failed", "pipeline_error")
    assert f"search id {search.pk}" in body["error"] and "tell your administrator" in body["error"]
    search.refresh_from_db()
    assert search.status == SearchStatus.FAILED
    assert not UsageEvent.objects.filter(key=f"search:{search.pk}").exists()


def test_a_search_deleted_before_the_worker_came_ends_the_task_cleanly(cast, celery_worker) -> None:
    search = _queued_search(cast, jpeg_file(photos.photo(*PROBE)))
    search_id = search.pk
    search.delete()
    task = run_search.delay(search_id, cast.agency.pk)
    log = ARTIFACTS / "celery-searches.log"
    wait_for(lambda: f"run_search[{task.id}] succeeded" in log.read_text(errors="replace"))
    text = log.read_text(errors="replace")
    assert f"search {search_id} is not (or no longer) to run" in text
    assert f"run_search[{task.id}] raised" not in text and f"run_search[{task.id}] retry" not in text
    assert not Search.objects.filter(pk=search_id).exists()

"""Recovery in seconds: a worker killed with SIGKILL mid-search, and a new one started, get the
search done within 30 s of the new worker being ready, once (one result set, billed once);
enrollment items of a dead worker are given back the same way."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from agencies.audit.models import AuditAction, AuditEvent
from agencies.audit.trail import verify_all
from agencies.billing.models import UsageEvent
from portal.logs import request_id_headers
from portal.workers import live_workers, worker_identity
from search.models import BatchStatus, Case, Face, ItemStatus, Search, SearchStatus
from search.selectors import policy_of
from search.services import searching
from search.services.batches import batches_recover_orphans
from search.services.files import jpeg_file
from search.tasks import recover_orphaned_work, run_search
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import ARTIFACTS, _start_worker, _wait_until_ready, enroll_people, wait_for

RECOVERY_BOUND_SECONDS = 30  # issue #18, item 5
OWN_QUEUE = "recovery-test"  # only the worker about to be killed consumes it
GONE = "gone-host:1:000000000000"  # a worker that never beats


def _worker(name: str, queues: list[str]) -> tuple[Any, Any, float]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test",
           "CASEBOUND_DB_NAME": settings.DATABASES["default"]["NAME"]}
    worker, log = _start_worker(name, queues, env)
    _wait_until_ready(worker, ARTIFACTS / f"celery-{name}.log")
    return worker, log, time.monotonic()


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND datname = current_database()")
        return cursor.fetchone()[0] > 0


def test_a_claim_names_its_worker_and_that_worker_is_alive(cast) -> None:
    enroll_people(GalleryFactory(agency=cast.agency), count=1)
    case = assigned_case(cast.agency, cast.officer)
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Ariel_Sharon", 2))
    searching.search_run(search_id=search.pk)
    search.refresh_from_db()
    assert search.claimed_by == worker_identity()
    assert live_workers([search.claimed_by, GONE]) == {search.claimed_by}


def test_only_the_searches_of_workers_that_are_gone_are_given_back(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    probe = photos.photo("Ariel_Sharon", 2)
    alive = searching.search_create(case=case, user=cast.officer, probe=probe)
    dead = searching.search_create(case=case, user=cast.officer, probe=probe)
    hopeless = searching.search_create(case=case, user=cast.officer, probe=probe)
    Search.objects.filter(pk=alive.pk).update(status=SearchStatus.RUNNING, attempts=1,
                                              claimed_by=worker_identity())
    Search.objects.filter(pk=dead.pk).update(status=SearchStatus.RUNNING, attempts=1,
                                             claimed_by=GONE)
    Search.objects.filter(pk=hopeless.pk).update(status=SearchStatus.RUNNING, attempts=3,
                                                 claimed_by=GONE)

    assert searching.searches_recover_orphans() == [(dead.pk, cast.agency.pk, "")]
    statuses = dict(Search.objects.values_list("pk", "status"))
    assert statuses == {alive.pk: SearchStatus.RUNNING, dead.pk: SearchStatus.QUEUED,
                        hopeless.pk: SearchStatus.FAILED}
    assert Search.objects.get(pk=hopeless.pk).error_code == "worker_lost"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_search_whose_worker_was_killed_finishes_once_soon_after_a_new_worker_starts(
        cast) -> None:
    enroll_people(GalleryFactory(agency=cast.agency), count=2)
    case = assigned_case(cast.agency, cast.officer)
    # Queued without a message to the shared queue: only the doomed worker may claim it first.
    request_id = f"trace-{uuid.uuid4().hex}"  # as the officer's request stored it
    search = Search.objects.create(agency=cast.agency, case=case, requested_by=cast.officer,
                                   probe=jpeg_file(photos.photo("Ariel_Sharon", 2)),
                                   policy=policy_of(cast.agency).snapshot(), request_id=request_id)
    doomed, doomed_log, _ready = _worker("recovery-doomed", [OWN_QUEUE])
    try:
        with transaction.atomic():
            # Hold the case: the doomed worker claims the search, runs the model, then waits
            # for this lock before storing anything. Killed there, it is surely mid-search.
            Case.objects.select_for_update().get(pk=case.pk)
            run_search.apply_async((search.pk, search.agency_id), queue=OWN_QUEUE,
                                   headers=request_id_headers(request_id))
            wait_for(lambda: Search.objects.filter(pk=search.pk, status=SearchStatus.RUNNING)
                     .exists(), timeout=120)
            wait_for(_waiting_on_a_lock, timeout=120)
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(timeout=30)
        killed_claim = Search.objects.get(pk=search.pk).claimed_by
        assert killed_claim.split(":")[1] == str(doomed.pid)
    finally:
        doomed_log.close()

    routes = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    fresh, fresh_log, ready_at = _worker(
        "recovery-fresh", [settings.CELERY_TASK_DEFAULT_QUEUE, *sorted(routes)])
    try:
        def finished() -> bool:
            return Search.objects.get(pk=search.pk).is_finished

        wait_for(finished, timeout=RECOVERY_BOUND_SECONDS + 30)
        took = time.monotonic() - ready_at
        print(f"\nsearch finished {took:.1f} s after the new worker was ready")
        assert took <= RECOVERY_BOUND_SECONDS
    finally:
        fresh.terminate()
        fresh.wait(timeout=30)
        fresh_log.close()

    search.refresh_from_db()
    assert search.status == SearchStatus.DONE
    assert search.attempts == 2 and search.claimed_by not in ("", killed_claim)
    ranks = list(search.candidates.values_list("rank", flat=True))
    assert ranks == sorted(set(ranks)) and ranks[0] == 1  # one result set
    assert search.candidates.get(rank=1).subject.reference == "Ariel_Sharon"
    assert UsageEvent.objects.filter(key=f"search:{search.pk}").count() == 1  # billed once
    assert not AuditEvent.objects.filter(action=AuditAction.SEARCH_REFUSED).exists()
    assert verify_all() == []
    # The second run, queued by the recovery (no request of its own; whichever live worker ran
    # it), logs under the officer's request id.
    finished = [line for line in _lines_with(request_id) if line.get("event") == "search finished"]
    assert [(line["search_id"], line["status"]) for line in finished] == [(search.pk, "done")]


def _lines_with(request_id: str) -> list[dict[str, Any]]:
    """The JSON lines of every test worker's log that carry `request_id`."""
    lines = []
    for log in ARTIFACTS.glob("celery-*.log"):
        lines += [json.loads(raw) for raw in log.read_text(errors="replace").splitlines()
                  if raw.startswith("{") and request_id in raw]
    return [line for line in lines if line.get("request_id") == request_id]


def _orphaned_batch(cast) -> Any:
    """A batch as a crash leaves it: items running under a worker that is gone, and pending
    items whose chunk message died with it (no message is sent for any of them)."""
    from search.services.batches import batch_create
    from search.tests.test_bulk_enrollment import _archive

    gallery = GalleryFactory(agency=cast.agency)
    with transaction.atomic():
        batch = batch_create(gallery=gallery, actor=cast.admin, data=_archive())
        batch.items.filter(status=ItemStatus.PENDING).update(status=ItemStatus.RUNNING,
                                                             claimed_by=GONE)
    held = list(batch.items.filter(claimed_by=GONE).values_list("pk", flat=True))[:3]
    batch.items.filter(pk__in=held).update(status=ItemStatus.PENDING, claimed_by="")
    return batch


def test_enrollment_items_of_a_gone_worker_are_given_back_with_their_batchs_pending_items(
        cast) -> None:
    batch = _orphaned_batch(cast)
    live = batch.items.filter(claimed_by=GONE).first()
    batch.items.filter(pk=live.pk).update(claimed_by=worker_identity())

    chunks = batches_recover_orphans()
    given_back = sorted(pk for _batch, ids, _agency in chunks for pk in ids)
    assert given_back == sorted(batch.items.exclude(pk=live.pk).filter(
        status=ItemStatus.PENDING).values_list("pk", flat=True))
    assert len(given_back) == 8  # 9 rows to enroll (a missing file failed at upload), 1 still live
    assert {(b, a) for b, _ids, a in chunks} == {(batch.pk, cast.agency.pk)}
    assert batch.items.get(pk=live.pk).status == ItemStatus.RUNNING


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_batch_left_by_a_dead_worker_is_finished_once_by_a_live_one(cast, celery_worker) -> None:
    batch = _orphaned_batch(cast)
    recover_orphaned_work.delay()

    def done() -> bool:
        batch.refresh_from_db()
        return batch.status == BatchStatus.DONE

    wait_for(done, timeout=120)
    statuses = sorted(batch.items.values_list("status", flat=True))
    assert statuses == sorted([ItemStatus.DONE] * 8 + [ItemStatus.FAILED] * 2)
    assert Face.objects.filter(gallery=batch.gallery).count() == 8


@contextlib.contextmanager
def _agency_row_held(agency_id: int) -> Iterator[None]:
    """Another session holds the agency's row: a search stops just before storing its results
    (it share-locks the row), while its worker stays alive and keeps beating."""
    other = connections.create_connection("default")
    other.set_autocommit(False)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT 1 FROM agencies_agency WHERE id = %s FOR NO KEY UPDATE",
                           [agency_id])
        yield
    finally:
        other.rollback()
        other.close()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_live_workers_search_is_not_run_again_however_old_and_fails_past_the_run_limit(
        cast, celery_worker, settings) -> None:
    from agencies.billing.models import UsageEvent
    from search.tasks import sweep_stale_searches
    from tests.fixtures import web_client

    enroll_people(GalleryFactory(agency=cast.agency), count=2)
    case = assigned_case(cast.agency, cast.officer)
    settings.CASEBOUND = {**settings.CASEBOUND, "SEARCH_RUN_LIMIT_SECONDS": 7200}
    with _agency_row_held(cast.agency.pk):
        slow = searching.search_create(case=case, user=cast.officer,
                                       probe=photos.photo("Ariel_Sharon", 2))
        wait_for(_waiting_on_a_lock, timeout=120)  # the worker ran the model and waits to store
        claim = Search.objects.get(pk=slow.pk).claimed_by
        assert live_workers([claim]) == {claim}
        an_hour_ago = timezone.now() - timedelta(hours=1)  # far beyond the stale limit (5 s)
        Search.objects.filter(pk=slow.pk).update(started_at=an_hour_ago)
        sweep_stale_searches()
        slow.refresh_from_db()
        assert (slow.status, slow.attempts, slow.claimed_by) == (SearchStatus.RUNNING, 1, claim)

        settings.CASEBOUND = {**settings.CASEBOUND, "SEARCH_RUN_LIMIT_SECONDS": 1800}
        sweep_stale_searches()  # past the run limit: failed, not given back
        slow.refresh_from_db()
        assert (slow.status, slow.error_code, slow.attempts) == (SearchStatus.FAILED,
                                                                  "run_too_long", 1)
    # The worker goes on, finds its claim gone and drops its results; the next search is its.
    after = searching.search_create(case=case, user=cast.officer,
                                    probe=photos.photo("Ariel_Sharon", 2))
    wait_for(lambda: Search.objects.get(pk=after.pk).status == SearchStatus.DONE, timeout=120)
    slow.refresh_from_db()
    assert (slow.status, slow.attempts) == (SearchStatus.FAILED, 1)
    assert not slow.candidates.exists()
    assert not UsageEvent.objects.filter(key=f"search:{slow.pk}").exists()  # not billed
    page = web_client(cast.officer).get(f"/searches/{slow.pk}/").content.decode()
    assert "The search failed" in page
    assert "stopped after running for more than 30 minutes" in page and "not billed" in page

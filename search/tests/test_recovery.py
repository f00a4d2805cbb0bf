"""Celery that loses nothing: redelivery is harmless, stale work is given back, hopeless work ends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from search.models import Search, SearchStatus
from search.selectors import policy_of
from search.services import searching
from search.services.files import jpeg_file
from search.tasks import sweep_stale_searches
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import enroll_people, wait_for


def _search(cast, **fields) -> Search:
    """A search row in a given state, as a crash would leave it: no message is sent for it."""
    case = assigned_case(cast.agency, cast.officer)
    search = Search.objects.create(agency=cast.agency, case=case, requested_by=cast.officer,
                                   probe=jpeg_file(photos.photo("Colin_Powell", 2)),
                                   policy=policy_of(cast.agency).snapshot())
    Search.objects.filter(pk=search.pk).update(**fields)
    return Search.objects.get(pk=search.pk)


def test_a_running_search_is_not_claimed_twice(cast) -> None:
    stale = timezone.now() - timedelta(seconds=1)
    search = _search(cast, status=SearchStatus.RUNNING, started_at=stale, attempts=1)
    searching.search_run(search_id=search.pk)  # a redelivered message
    search.refresh_from_db()
    assert search.status == SearchStatus.RUNNING
    assert search.attempts == 1


def test_a_finished_search_is_left_alone(cast) -> None:
    search = _search(cast, status=SearchStatus.DONE)
    searching.search_run(search_id=search.pk)
    search.refresh_from_db()
    assert search.status == SearchStatus.DONE and search.attempts == 0


def test_a_search_whose_worker_died_is_given_back(cast, settings) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    search = _search(cast, status=SearchStatus.RUNNING, started_at=long_ago, attempts=1,
                     created_at=long_ago)
    assert searching.searches_requeue_stale() == [(search.pk, search.agency_id, "")]
    search.refresh_from_db()
    assert search.status == SearchStatus.QUEUED


def test_a_stale_search_whose_worker_is_alive_is_left_to_it_until_the_run_limit(
        cast, settings) -> None:
    from portal.workers import worker_identity

    an_hour_ago = timezone.now() - timedelta(hours=1)
    search = _search(cast, status=SearchStatus.RUNNING, started_at=an_hour_ago, attempts=1,
                     created_at=an_hour_ago, claimed_by=worker_identity())  # this live process
    settings.CASEBOUND = {**settings.CASEBOUND, "SEARCH_RUN_LIMIT_SECONDS": 7200}
    assert searching.searches_requeue_stale() == []
    search.refresh_from_db()
    assert (search.status, search.attempts) == (SearchStatus.RUNNING, 1)

    settings.CASEBOUND = {**settings.CASEBOUND, "SEARCH_RUN_LIMIT_SECONDS": 1800}
    assert searching.searches_requeue_stale() == []
    search.refresh_from_db()
    assert (search.status, search.error_code) == (SearchStatus.FAILED, "run_too_long")
    assert "more than 30 minutes" in search.error and "not billed" in search.error


def test_a_search_that_killed_its_worker_too_often_fails_with_a_reason(cast) -> None:
    long_ago = timezone.now() - timedelta(hours=1)
    search = _search(cast, status=SearchStatus.RUNNING, started_at=long_ago, attempts=3,
                     created_at=long_ago)
    assert searching.searches_requeue_stale() == []
    search.refresh_from_db()
    assert search.status == SearchStatus.FAILED
    assert search.error_code == "worker_lost"
    assert "Run it again" in search.error


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_sweeper_gets_an_abandoned_search_done_on_a_real_worker(cast, celery_worker) -> None:
    enroll_people(GalleryFactory(agency=cast.agency), count=2)
    long_ago = timezone.now() - timedelta(hours=1)
    # As if a worker had died mid-search: running, stale, its message gone.
    search = _search(cast, status=SearchStatus.RUNNING, started_at=long_ago, attempts=1,
                     created_at=long_ago)
    sweep_stale_searches.delay()

    def done() -> bool:
        search.refresh_from_db()
        return search.status == SearchStatus.DONE

    wait_for(done, timeout=90)
    assert search.attempts == 2
    assert search.candidates.first().subject.reference == "Colin_Powell"


def test_a_run_given_back_meanwhile_does_not_finish_the_search_with_no_face(
        cast, monkeypatch) -> None:
    """The sweeper gives a slow run's search back and another worker claims it while the first
    run is still looking for a face: the first run must leave it to the second (as it does with
    candidates), not finish it under the second's feet, bill it and count it."""
    from agencies.billing.models import UsageEvent
    from search.engine import pipeline

    search = Search.objects.create(
        agency=cast.agency, case=assigned_case(cast.agency, cast.officer), requested_by=cast.officer,
        probe=jpeg_file(photos.blank_photo()), policy=policy_of(cast.agency).snapshot())
    real_analyze = pipeline.analyze

    def given_back_and_claimed_again(*args, **kwargs):
        searching._give_back(Search.objects.filter(pk=search.pk))  # the sweeper
        assert searching._claim(search.pk) is not None  # another worker's run
        return real_analyze(*args, **kwargs)  # the real model, on a photo without a face

    monkeypatch.setattr(pipeline, "analyze", given_back_and_claimed_again)
    searching.search_run(search_id=search.pk)
    search.refresh_from_db()
    assert search.status == SearchStatus.RUNNING and search.attempts == 2  # the second run's
    assert search.finished_at is None
    assert not UsageEvent.objects.filter(agency=cast.agency).exists()


def test_a_run_that_fails_after_its_search_went_to_another_worker_leaves_it_running(
        cast, monkeypatch) -> None:
    """The first run crashes after the sweeper gave its search to a worker in another process:
    the crash is the first run's, and must not fail the search the second run is working on."""
    from search.engine import pipeline

    search = Search.objects.create(
        agency=cast.agency, case=assigned_case(cast.agency, cast.officer), requested_by=cast.officer,
        probe=jpeg_file(photos.photo("Colin_Powell", 2)), policy=policy_of(cast.agency).snapshot())

    def given_to_another_worker_then_crash(*args, **kwargs):
        searching._give_back(Search.objects.filter(pk=search.pk))  # the sweeper
        Search.objects.filter(pk=search.pk).update(  # claimed by a worker in another process
            status=SearchStatus.RUNNING, attempts=2, claimed_by="elsewhere:4242:0123456789ab")
        raise RuntimeError("the first run's own failure")

    monkeypatch.setattr(pipeline, "analyze", given_to_another_worker_then_crash)
    searching.search_execute(search_id=search.pk)
    search.refresh_from_db()
    assert search.status == SearchStatus.RUNNING and search.attempts == 2
    assert search.error_code == "" and search.finished_at is None


def test_a_transient_failure_gives_back_only_a_search_this_process_still_holds(cast) -> None:
    """A run hit by a database error puts its search back in the queue, but not one the sweeper
    has since given to a worker in another process (it would run a third time)."""
    from portal.workers import worker_identity

    def running(claimed_by: str) -> Search:
        return Search.objects.create(
            agency=cast.agency, case=assigned_case(cast.agency, cast.officer),
            requested_by=cast.officer, probe=jpeg_file(photos.photo("Colin_Powell", 2)),
            policy=policy_of(cast.agency).snapshot(), status=SearchStatus.RUNNING, attempts=1,
            claimed_by=claimed_by)

    elsewhere, mine = running("elsewhere:4242:0123456789ab"), running(worker_identity())
    searching.search_release(search_id=elsewhere.pk)
    searching.search_release(search_id=mine.pk)
    elsewhere.refresh_from_db()
    mine.refresh_from_db()
    assert elsewhere.status == SearchStatus.RUNNING and elsewhere.claimed_by.startswith("elsewhere")
    assert mine.status == SearchStatus.QUEUED and mine.claimed_by == ""

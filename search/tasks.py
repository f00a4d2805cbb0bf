"""Celery tasks: thin, take ids, call a service. Only named transient errors are retried."""


from celery import shared_task
from celery.signals import task_prerun, worker_process_init, worker_ready

from agencies.audit.bypass import platform_rows
from agencies.tenancy.row_security import agency_rows
from portal.logs import request_id_headers
from search.services import cases, retention, searching
from search.services.privacy import optouts_housekeep
from search.services.reembed import reembed_jobs_orphaned

TRANSIENT = searching.TRANSIENT


@worker_process_init.connect
def load_face_models(**kwargs: object) -> None:
    """Load the model in each worker process at start, not inside the first officer's search."""
    from search.engine import pipeline

    pipeline.warm_up()


@task_prerun.connect
def forget_content_types(**kwargs: object) -> None:
    """A worker outlives database flushes and restores, which renumber content types; guardian
    finds case assignments by content type, so a stale cached id would refuse every search."""
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()


@shared_task(autoretry_for=TRANSIENT, retry_backoff=2, max_retries=3, acks_late=True)
def run_search(search_id: int, agency_id: int) -> None:
    with agency_rows(agency_id):  # the database shows this task its agency's rows only
        searching.search_execute(search_id=search_id)


@shared_task
def sweep_stale_searches() -> int:
    # Every minute: recorded in the audit trail only when it gave something back.
    with platform_rows("re-queue stale searches", record_idle=False) as use:
        stale = searching.searches_requeue_stale()
        use.changed = len(stale)
        orphaned = reembed_jobs_orphaned()
        use.changed += len(orphaned)
    _run_again(stale)
    for job_id, agency_id in orphaned:  # a killed worker's job resumes where it stopped
        run_reembed.delay(job_id, agency_id)
    return len(stale)


@shared_task
def recover_orphaned_work() -> int:
    # Every few seconds and when a worker starts: audited only when it gave something back.
    from search.services.batches import batches_recover_orphans

    with platform_rows("give back work of workers that are gone", record_idle=False) as use:
        searches = searching.searches_recover_orphans()
        chunks = batches_recover_orphans()
        use.changed = len(searches) + sum(len(ids) for _batch, ids, _agency in chunks)
    _run_again(searches)
    for batch_id, item_ids, agency_id in chunks:
        enroll_batch_items.delay(batch_id, item_ids, agency_id)
    return use.changed


def _run_again(searches: list[searching.Requeued]) -> None:
    """Queue searches again under their officer's request id, so the new run's log lines and
    audit events are joined to the request that asked for them."""
    for search_id, agency_id, request_id in searches:
        run_search.apply_async((search_id, agency_id), headers=request_id_headers(request_id))


@worker_ready.connect
def recover_at_start(**kwargs: object) -> None:
    """A worker that starts gives back the searches and enrollment items that the workers before
    it left running: now for those whose heartbeat has expired, and once more when the rest of
    the dead ones' have."""
    from portal.workers import heartbeat_ttl

    recover_orphaned_work.delay()
    recover_orphaned_work.apply_async(countdown=heartbeat_ttl() + 1)


@shared_task
def expire_cases() -> int:
    with platform_rows("expire case authorizations", record_idle=False) as use:
        use.changed = cases.cases_expire()
    return use.changed


@shared_task
def purge_expired() -> dict[str, dict[str, int]]:
    with platform_rows("retention purge"):
        counts = dict(retention.purge_expired().counts)
        counts["opt-outs"] = optouts_housekeep()
        return counts


@shared_task
def maintain_vector_indexes() -> list[str]:
    from search.engine import vector_index

    with platform_rows("build vector indexes of grown agencies"):
        return vector_index.indexes_maintain()


@shared_task
def maintain_face_cohorts() -> list[str]:
    """Hourly: recompute the face cohorts of every agency whose gallery changed enough."""
    from search.services.cohorts import agencies_cohorts_maintain

    with platform_rows("refresh face cohorts of changed galleries"):
        return agencies_cohorts_maintain()


@shared_task(autoretry_for=TRANSIENT, retry_backoff=2, max_retries=3, acks_late=True)
def refresh_face_cohorts(agency_id: int) -> int:
    """After a bulk enrollment or a removal: the agency's cohorts, if enough changed."""
    from search.services.cohorts import agency_cohorts_maintain_by_id

    with agency_rows(agency_id):
        return agency_cohorts_maintain_by_id(agency_id=agency_id)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=2, max_retries=3, acks_late=True)
def enroll_batch_items(batch_id: int, item_ids: list[int], agency_id: int) -> None:
    from search.services.batches import batch_items_enroll

    with agency_rows(agency_id):
        batch_items_enroll(batch_id=batch_id, item_ids=item_ids)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=2, max_retries=3, acks_late=True)
def run_reembed(job_id: int, agency_id: int) -> None:
    from search.services.reembed import reembed_run

    with agency_rows(agency_id):
        reembed_run(job_id=job_id)

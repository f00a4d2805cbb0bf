"""The re-embedding switch beside an officer's audited read of results. Found by
`benchmark_reembed`: an officer opening a search while the agency switched got a 500 (deadlock
detected), because the switch locked the agency row against the foreign-key checks of every row
written for the agency, then waited for the audit chain that the officer's read held."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from agencies.audit.models import AuditAction, AuditChainHead
from agencies.audit.trail import audit_record
from agencies.tenancy.models import Agency
from agencies.tenancy.row_security import agency_rows
from search.models import ReembedJob, ReembedStatus
from search.services import reembed
from tests.factories import GalleryFactory
from tests.fixtures import enroll_people, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # the switch runs on a connection of its own


def _someone_waits_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND pid <> pg_backend_pid()")
        return bool(cursor.fetchone()[0])


def test_an_audited_read_during_the_switch_neither_waits_for_it_nor_deadlocks(cast) -> None:
    enroll_people(GalleryFactory(agency=cast.agency, name="North bookings"), count=2)
    job = reembed.reembed_start(agency=cast.agency, recipe_name="Dlib", actor=cast.admin,
                                enqueue=False)
    failures: list[BaseException] = []

    def run_the_job() -> None:
        try:
            with agency_rows(cast.agency.pk):  # as the task runs it
                reembed.reembed_run(job_id=job.pk)
        except BaseException as error:  # noqa: BLE001 - a deadlock victim is what this test looks for
            failures.append(error)
        finally:
            connection.close()

    with transaction.atomic():
        # The officer's read has begun its audit record: it holds the agency's chain.
        AuditChainHead.objects.select_for_update().get(chain=cast.agency.pk)
        switch = threading.Thread(target=run_the_job)
        switch.start()
        # The switch, at its own audit record (or already failed, which the end reports).
        wait_for(lambda: _someone_waits_for_a_lock() or failures, timeout=120)
        # The event's agency foreign key is checked against the agency row the switch holds.
        audit_record(action=AuditAction.RESULTS_VIEWED, agency=cast.agency, actor=cast.officer)
    switch.join(timeout=120)

    assert failures == []
    assert ReembedJob.objects.get(pk=job.pk).status == ReembedStatus.DONE
    assert Agency.objects.get(pk=cast.agency.pk).face_recipe == "Dlib"

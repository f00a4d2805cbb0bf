"""Searches and bulk enrollment run on separate queues and workers: a search never waits behind
an enrollment. Real workers (as `make run` splits them) on the real broker."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from portal.devservices import WORKER_QUEUES
from search.models import EnrollmentBatch, Search
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import api_client, wait_for


def _every_fixture_photo() -> bytes:
    buffer, lines = io.BytesIO(), ["file,subject_reference"]
    with zipfile.ZipFile(buffer, "w") as archive:
        for person in photos.people():
            for index in range(3):
                name = f"{person}/{index}.jpg"
                archive.writestr(name, photos.photo(person, index))
                lines.append(f"{name},{person}")
        archive.writestr("manifest.csv", "\n".join(lines) + "\n")
    return buffer.getvalue()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_search_does_not_wait_behind_a_bulk_enrollment(cast, celery_worker) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    upload = SimpleUploadedFile("all.zip", _every_fixture_photo(), content_type="application/zip")
    batch = api_client(cast.admin).post(f"/api/v1/galleries/{gallery.pk}/batches/",
                                        {"archive": upload}, format="multipart")
    assert batch.status_code == 202, batch.content
    case = assigned_case(cast.agency, cast.officer)
    probe = SimpleUploadedFile("probe.jpg", photos.photo("Colin_Powell", 2), content_type="image/jpeg")
    search = api_client(cast.officer).post("/api/v1/searches/", {"case": case.pk, "probe": probe},
                                           format="multipart")
    assert search.status_code == 202, search.content
    # Queued after ~48 photos to enroll, the search is still done first: its worker is free.
    wait_for(lambda: Search.objects.get(pk=search.json()["id"]).is_finished, timeout=90)
    finished = wait_for(lambda: EnrollmentBatch.objects.filter(pk=batch.json()["id"],
                                                               status="done").first(), timeout=300)
    assert Search.objects.get(pk=search.json()["id"]).finished_at < finished.finished_at


def test_make_run_starts_one_worker_per_queue_and_beat_once() -> None:
    from django.conf import settings

    from portal.devservices import worker_commands

    routed = {route["queue"].removesuffix("-test") for route in settings.CELERY_TASK_ROUTES.values()}
    assert set(WORKER_QUEUES) == routed | {"casebound"}
    commands = worker_commands("python")
    assert [command[command.index("--queues") + 1] for command in commands] == list(WORKER_QUEUES)
    assert sum("--beat" in command for command in commands) == 1


def test_make_run_runs_bulk_enrollment_below_the_searches_priority() -> None:
    from portal.devservices import worker_commands

    commands = {command[command.index("--queues") + 1]: command for command in worker_commands("python")}
    assert commands["bulk"][:3] == ["nice", "-n", "10"]
    assert commands["searches"][0] == "python"

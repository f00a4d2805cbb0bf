"""Workers on several hosts: two `celery worker` processes with different `--hostname`s on one
broker both consume the searches queue, and each search's claim names the node that ran it
(docs/scaling.md). On one machine the node name is what tells them apart, as it would across
machines."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from agencies.billing.models import UsageEvent
from search.models import Search, SearchStatus
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import ARTIFACTS, _wait_until_ready, api_client, enroll_people, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
SEARCHES = 8


@pytest.fixture
def two_hosts() -> Iterator[list[str]]:
    """Two search workers named as on two machines; yields their node names."""
    queue = settings.CELERY_TASK_ROUTES["search.tasks.run_search"]["queue"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test",
           "CASEBOUND_DB_NAME": settings.DATABASES["default"]["NAME"]}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    nodes = [f"searches@host-{name}-{uuid.uuid4().hex[:6]}" for name in ("a", "b")]
    started: list[tuple[subprocess.Popen[bytes], Any]] = []
    try:
        for node in nodes:
            log_path = ARTIFACTS / f"celery-{node.split('@')[1]}.log"
            log = log_path.open("wb")
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo",
                 "--queues", queue, "--hostname", node, "--loglevel", "info"],
                env=env, stdout=log, stderr=subprocess.STDOUT)
            started.append((worker, log))
            _wait_until_ready(worker, log_path)
        yield nodes
    finally:
        for worker, log in started:
            worker.terminate()
            worker.wait(timeout=30)
            log.close()


def test_two_workers_of_different_host_names_both_serve_searches(cast, two_hosts) -> None:
    enroll_people(GalleryFactory(agency=cast.agency), count=2)
    case = assigned_case(cast.agency, cast.officer)
    officer = api_client(cast.officer)
    ids = []
    for index in range(SEARCHES):
        probe = SimpleUploadedFile("p.jpg", photos.photo(photos.people()[index % 2], 2),
                                   content_type="image/jpeg")
        answer = officer.post("/api/v1/searches/", {"case": case.pk, "probe": probe},
                              format="multipart")
        assert answer.status_code == 202, answer.content
        ids.append(answer.json()["id"])
    searches = Search.objects.filter(pk__in=ids)
    wait_for(lambda: searches.filter(status=SearchStatus.DONE).count() == SEARCHES, timeout=180)

    served_by = {claim.split(":")[0] for claim in searches.values_list("claimed_by", flat=True)}
    assert set(two_hosts) <= served_by  # both hosts took searches (the suite's worker may too)
    assert UsageEvent.objects.filter(key__in=[f"search:{pk}" for pk in ids]).count() == SEARCHES

"""manage.py load_test at a tiny scale against the served portal (gunicorn as `make run` starts
it, the suite's real workers): its figures come with its own accounting, which can fail."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from agencies.billing.models import UsageEvent
from search.bench.load import Officer, Run, accounting, phase_figures, run_phases
from search.lfw import FIXTURE_LFW
from search.models import Search, SearchStatus
from tests import photos
from tests.factories import assigned_case
from tests.test_api_live import served_portal  # noqa: F401 - the fixture, as that test serves it

pytestmark = [pytest.mark.live, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _load_test(url: str, *extra: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("load_test", "--base-url", url, "--images", str(FIXTURE_LFW), "--officers", "2",
                 "--people", "3", "--think", "0.2", "--warmup", "0", *extra, stdout=out)
    return json.loads(out.getvalue().splitlines()[-1])["load_test"]


def test_officers_search_while_an_admin_enrolls_and_no_search_is_lost(served_portal) -> None:  # noqa: F811
    report = _load_test(served_portal, "--duration", "6", "--enroll-during", "4")

    searches = Search.objects.filter(agency__slug="loadtest")
    assert report["submitted"] == searches.count() >= 2
    assert report["finished"] == report["submitted"] and report["lost"] == 0
    assert report["errors"] == 0 and report["billing_mismatches"] == []
    ran = searches.filter(status__in=[SearchStatus.DONE, SearchStatus.NO_FACE])
    assert report["billed"] == ran.count() == UsageEvent.objects.filter(
        key__in=[f"search:{pk}" for pk in searches.values_list("pk", flat=True)]).count()
    assert report["enrollment"]["counts"]["done"] == 4
    assert set(report["phases"]) == {"idle", "enrolling"}
    assert report["phases"]["idle"]["p95_s"] > 0


def test_refused_searches_are_counted_as_errors(cast, served_portal) -> None:  # noqa: F811
    # A case of another agency answers 404 to this officer: every submit is an error, none a search.
    foreign = assigned_case(cast.other_agency, cast.other_officer)
    token = Token.objects.get_or_create(user=cast.officer)[0].key
    probe = photos.photo(photos.people()[0], 2)
    run = Run(base_url=served_portal, probes=[("probe.jpg", probe)], think_seconds=0.2,
              search_timeout=30)
    run_phases(run, [Officer("alice", token, foreign.pk)], 0, 2, None)
    figures = phase_figures(run.samples, 2)
    assert figures["searches"] >= 1 and figures["errors"] == figures["searches"]
    assert {s.error for s in run.samples} == {"submit answered 404"}


def test_the_accounting_names_a_lost_search_and_one_billed_wrongly(search) -> None:
    waiting = Search.objects.create(agency=search.agency, case=search.case, probe="",
                                    requested_by=search.requested_by, status=SearchStatus.QUEUED)
    unbilled = Search.objects.create(agency=search.agency, case=search.case, probe="",
                                     requested_by=search.requested_by, status=SearchStatus.DONE)
    books = accounting([search.pk, waiting.pk, unbilled.pk], drain_seconds=0)
    assert books["lost"] == [waiting.pk]
    assert books["billing_mismatches"] == [unbilled.pk]
    assert books["finished"] == 2 and books["billed"] == 1

"""/metrics: the figures of a real search through the real worker, read from the loopback; to any
other address without the token the address does not exist."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families

from search.models import Face, Search, SearchStatus
from tests import photos
from tests.factories import CaseFactory, GalleryFactory, assigned_case
from tests.fixtures import api_client, enroll_people, wait_for

TOKEN = "metrics-" + uuid.uuid4().hex


def _scrape(client: Client, **extra: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content[:300]
    assert response["Cache-Control"] == "no-store"
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_loopback_reads_the_figures_of_a_real_search_through_the_worker(
        cast: Any, celery_worker: Any, client: Client) -> None:
    enroll_people(GalleryFactory(agency=cast.agency), count=2)
    case = assigned_case(cast.agency, cast.officer)
    before = _scrape(client)  # the test client's REMOTE_ADDR is 127.0.0.1
    probe = SimpleUploadedFile("probe.jpg", photos.photo("Ariel_Sharon", 2), content_type="image/jpeg")
    response = api_client(cast.officer).post("/api/v1/searches/", {"case": case.pk, "probe": probe},
                                             format="multipart")
    assert response.status_code == 202, response.content
    search_id = response.json()["id"]
    wait_for(lambda: Search.objects.get(pk=search_id).status == SearchStatus.DONE)

    # The worker process counted the search; this process reads its samples from the shared folder.
    after = wait_for(lambda: (lambda s: s if _value(s, "casebound_searches_total", outcome="done",
                                                    code="") > _value(before, "casebound_searches_total",
                                                                      outcome="done", code="")
                              else None)(_scrape(client)), timeout=20)
    done = "casebound_searches_total"
    assert _value(after, done, outcome="done", code="") - _value(before, done, outcome="done", code="") == 1
    for stage in ("decode", "query", "store"):
        name = "casebound_search_stage_seconds_count"
        assert _value(after, name, stage=stage) - _value(before, name, stage=stage) == 1, stage
    latency = "casebound_http_request_duration_seconds_count"
    posted = {labels: value for (name, labels), value in after.items()
              if name == latency and ("method", "POST") in labels}
    assert any(dict(labels)["view"] == "api:search-list" for labels in posted), posted
    queue = settings.CELERY_TASK_ROUTES["search.tasks.run_search"]["queue"]
    assert _value(after, "casebound_queue_workers", queue=queue) >= 1
    assert ("casebound_queue_messages", (("queue", queue),)) in after
    assert _value(after, "casebound_faces") == Face.objects.count() == 4
    assert ("casebound_vector_index_bytes", ()) in after
    assert _value(after, "casebound_broker_up") == 1 and _value(after, "casebound_database_up") == 1
    text = client.get("/metrics").content.decode()
    assert cast.agency.name not in text and cast.agency.slug not in text  # totals only


@pytest.mark.django_db
def test_a_refused_search_is_counted_with_its_code(cast: Any, client: Client) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.officer)  # the officer is not assigned
    before = _scrape(client)
    probe = SimpleUploadedFile("probe.jpg", photos.photo("Ariel_Sharon", 2), content_type="image/jpeg")
    response = api_client(cast.officer).post("/api/v1/searches/", {"case": case.pk, "probe": probe},
                                             format="multipart")
    assert 400 <= response.status_code < 500
    code = response.json()["code"]
    after = _scrape(client)
    name = "casebound_searches_total"
    assert _value(after, name, outcome="refused", code=code) - _value(
        before, name, outcome="refused", code=code) == 1


def _unknown_address(client: Client, **extra: Any) -> Any:
    return client.get(f"/no-such-page-{uuid.uuid4().hex[:6]}/", **extra)


@pytest.mark.django_db
def test_another_address_without_the_token_finds_no_such_page(client: Client) -> None:
    outside = {"REMOTE_ADDR": "10.20.30.40"}
    response = client.get("/metrics", **outside)
    assert response.status_code == 404 == _unknown_address(client, **outside).status_code
    assert b"casebound_" not in response.content
    assert response["Content-Type"] == _unknown_address(client, **outside)["Content-Type"]


@pytest.mark.django_db
def test_the_token_opens_metrics_to_another_address_and_a_wrong_one_does_not(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(settings.CASEBOUND, "METRICS_TOKEN", TOKEN)
    outside = {"REMOTE_ADDR": "10.20.30.40"}
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **outside).status_code == 200
    for wrong in (f"Bearer {TOKEN}x", f"Token {TOKEN}", TOKEN, "Bearer "):
        assert client.get("/metrics", HTTP_AUTHORIZATION=wrong, **outside).status_code == 404, wrong


@pytest.mark.django_db
def test_no_token_configured_means_an_empty_bearer_opens_nothing(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(settings.CASEBOUND, "METRICS_TOKEN", "")
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ", REMOTE_ADDR="10.20.30.40")
    assert response.status_code == 404


@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=1)
def test_a_proxy_on_this_machine_does_not_make_every_client_local(client: Client) -> None:
    # Behind a proxy on the loopback, REMOTE_ADDR is 127.0.0.1 for everyone: the client counts.
    proxied = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert proxied.status_code == 404
    spoofed = client.get("/metrics", REMOTE_ADDR="127.0.0.1",
                         HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.9")
    assert spoofed.status_code == 404
    local = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert local.status_code == 200


@pytest.mark.django_db
def test_metrics_answer_only_reads(client: Client) -> None:
    assert client.post("/metrics").status_code in (403, 404)  # the site's answer, not ours
    assert b"casebound_" not in client.post("/metrics").content


@pytest.mark.django_db
def test_made_up_methods_and_addresses_add_no_new_series(client: Client) -> None:
    # Labels come from the URL's name and a fixed list of methods: a client cannot grow the
    # series (and the processes' files) without bound by inventing methods or paths.
    for index in range(3):
        client.generic(f"BREW{index}", "/healthz")
        client.get(f"/invented-{uuid.uuid4().hex}/")
    samples = _scrape(client)
    labels = {dict(key[1]).get("method") for key in samples
              if key[0] == "casebound_http_request_duration_seconds_count"}
    assert not any(label and label.startswith("BREW") for label in labels)
    assert "other" in labels
    views = {dict(key[1]).get("view") for key in samples
             if key[0] == "casebound_http_request_duration_seconds_count"}
    assert not any(view and "invented" in view for view in views) and "unresolved" in views


@pytest.mark.django_db
def test_a_refused_search_of_another_face_is_counted_too(cast: Any, search: Any, client: Client) -> None:
    before = _scrape(client)
    # The supervisor may see the search's results but is not assigned to its case: refused.
    response = api_client(cast.supervisor).post(f"/api/v1/searches/{search.pk}/another-face/",
                                                {"face_index": 0}, format="json")
    assert response.status_code == 403, response.content
    code = response.json()["code"]
    after = _scrape(client)
    name = "casebound_searches_total"
    assert _value(after, name, outcome="refused", code=code) - _value(
        before, name, outcome="refused", code=code) == 1

"""/healthz and /readyz: reachable without an account, each readiness check against the real
database, broker, Celery workers and weights, and a 503 naming the check that fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from portal.weights import WEIGHT_FILES

pytestmark = pytest.mark.django_db



def _ready(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response.status_code, response.json()


def test_healthz_answers_without_signing_in(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.worker
def test_readyz_passes_each_check_with_the_real_services_and_workers(client: Client,
                                                                     celery_worker: Any) -> None:
    status, body = _ready(client)
    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "workers", "model_weights", "calibration"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.worker
def test_readyz_names_the_queue_no_worker_consumes(client: Client, celery_worker: Any) -> None:
    routes = {**settings.CELERY_TASK_ROUTES, "search.tasks.unserved": {"queue": "nobody-test"}}
    with override_settings(CELERY_TASK_ROUTES=routes):
        status, body = _ready(client)
    assert status == 503
    assert body["status"] == "failing"
    assert body["checks"]["workers"] == {"ok": False, "queues_without_worker": ["nobody-test"]}
    assert body["checks"]["broker"]["ok"] and body["checks"]["database"]["ok"]


def test_readyz_fails_when_the_broker_does_not_answer_and_keeps_its_address_secret(
        client: Client) -> None:
    secret_url = "redis://:hunter2-broker-password@127.0.0.1:1/0"
    with override_settings(CELERY_BROKER_URL=secret_url):
        status, body = _ready(client)
    assert status == 503
    assert body["checks"]["broker"] == {"ok": False}
    assert not body["checks"]["workers"]["ok"]  # nobody to ask
    assert body["checks"]["database"]["ok"]
    assert "hunter2" not in json.dumps(body) and "127.0.0.1" not in json.dumps(body)


def test_readyz_fails_when_the_model_weights_are_missing(client: Client, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["model_weights"] == {"ok": False, "missing_files": list(WEIGHT_FILES)}
    assert str(tmp_path) not in json.dumps(body)


def test_readyz_fails_when_one_weight_file_is_gone(client: Client, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / ".deepface" / "weights"
    folder.mkdir(parents=True)
    for name in WEIGHT_FILES[1:]:
        (folder / name).write_bytes(b"weights")
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path))
    status, body = _ready(client)
    assert status == 503
    assert body["checks"]["model_weights"]["missing_files"] == [WEIGHT_FILES[0]]


def test_probes_skip_the_account_gate_that_holds_pages(cast: Any, client: Client) -> None:
    client.force_login(cast.officer)  # signed in, second factor not verified
    assert client.get("/").status_code == 302  # the gate holds every page...
    response = client.get("/healthz")
    assert response.status_code == 200  # ...but not the probe
    assert "sessionid" not in response.cookies


def test_probes_skip_the_session_limits(cast: Any, client: Client) -> None:
    client.force_login(cast.officer)
    session = client.session
    session["casebound_seen"] = 0  # idle since 1970: any page would end the session
    session.save()
    assert client.get("/healthz").status_code == 200
    assert client.session.get("casebound_seen") == 0  # the probe neither ended nor refreshed it


@override_settings(ALLOWED_HOSTS=["127.0.0.1"])
def test_a_balancer_may_probe_by_address_while_pages_still_check_the_host(client: Client) -> None:
    assert client.get("/healthz", HTTP_HOST="10.1.2.3").status_code == 200
    assert client.get("/accounts/login/", HTTP_HOST="10.1.2.3").status_code == 400


def test_probes_answer_only_reads(client: Client) -> None:
    response = client.post("/readyz", {"x": "1"})
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert client.head("/healthz").status_code == 200
    assert client.get("/healthz/").status_code == 404  # only the two exact addresses


def test_readyz_fails_when_the_score_calibration_is_missing(client: Client, tmp_path: Path) -> None:
    with override_settings(CASEBOUND={**settings.CASEBOUND, "CALIBRATION_DIR": tmp_path}):
        status, body = _ready(client)
    assert status == 503
    assert body["checks"]["calibration"] == {"ok": False}
    assert str(tmp_path) not in json.dumps(body)


def test_the_system_check_refuses_to_start_without_the_calibration(tmp_path: Path) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with (override_settings(CASEBOUND={**settings.CASEBOUND, "CALIBRATION_DIR": tmp_path}),
          pytest.raises(SystemCheckError, match="casebound.E002")):
        call_command("check")

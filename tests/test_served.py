"""`make run`'s web server as it serves: gunicorn on the local settings with DEBUG off, the
collected static files through whitenoise, the site's own 404, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings

from portal.devservices import BASE_DIR, setup_commands, web_command
from tests.fixtures import ARTIFACTS, free_port, served_answers, wait_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (gunicorn's workers)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """gunicorn as `make run` starts it: local settings, static files collected first."""
    monkeypatch.delenv("CASEBOUND_DEBUG", raising=False)
    monkeypatch.setenv("CASEBOUND_WEB_WORKERS", "2")  # two cores shared by several test runs
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.local",
           "CASEBOUND_DB_NAME": settings.DATABASES["default"]["NAME"]}
    collect = next(step for step in setup_commands(sys.executable) if "collectstatic" in step)
    subprocess.run(collect, env=env, check=True, cwd=BASE_DIR)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "served-gunicorn.log"
    port = free_port()
    with log_path.open("wb") as log:
        server = subprocess.Popen(web_command(str(port)), env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: server.poll() is not None or served_answers(url), timeout=90)
            assert server.poll() is None, log_path.read_text()[-3000:]
            yield url, server
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=30)


def test_a_wrong_address_shows_the_sites_own_404_not_the_debug_page(served) -> None:
    url, _server = served
    response = requests.get(f"{url}/no/such/page/", timeout=30)
    assert response.status_code == 404
    assert "Nothing here" in response.text
    assert "URLconf" not in response.text and "DEBUG = True" not in response.text
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in response.headers  # plain http on 127.0.0.1


def test_static_files_are_the_hashed_compressed_copies_served_by_whitenoise(served) -> None:
    url, _server = served
    manifest = json.loads((Path(settings.STATIC_ROOT) / "staticfiles.json").read_text())
    hashed = manifest["paths"]["css/casebound.css"]
    assert hashed != "css/casebound.css"
    page = requests.get(f"{url}/accounts/login/", timeout=30)
    assert f"/static/{hashed}" in page.text  # pages link the hashed name
    response = requests.get(f"{url}/static/{hashed}", headers={"Accept-Encoding": "gzip"},
                            timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "immutable" in response.headers["Cache-Control"]
    assert requests.get(f"{url}/static/css/nothing.css", timeout=30).status_code == 404


def test_sigterm_stops_gunicorn_and_its_workers(served) -> None:
    _url, server = served
    workers = wait_for(lambda: _children(server.pid), timeout=30)
    assert len(workers) == 2
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)

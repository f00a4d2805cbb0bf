"""schemathesis black-box against the served portal: the web server `make run` starts, on a free
local port, with a real worker, reached over HTTP with each role's token. No answer may be a 5xx,
whatever the role, the method (OPTIONS included, with a body) or the generated input."""

from __future__ import annotations

import os
import subprocess
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from django.conf import settings
from hypothesis.errors import NonInteractiveExampleWarning
from rest_framework.authtoken.models import Token

from portal.devservices import BASE_DIR, web_command
from search.models import Search, SearchStatus
from tests.factories import assigned_case
from tests.fixtures import ARTIFACTS, free_port, served_answers, wait_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

EXAMPLES_PER_OPERATION = 2  # ~20 s on an idle machine, ~80 s on a busy one; bounded by count
MARKUP = '5 < 7 <a href="https://evil.example/">x</a> <img src="/etc/passwd"/>'


@pytest.fixture
def served_portal(celery_worker: Any) -> Iterator[str]:
    """The portal's web server on the test database, as `make run` starts it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "live-server.log"
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test",
           "CASEBOUND_DB_NAME": settings.DATABASES["default"]["NAME"]}
    with log_path.open("wb") as log:
        server = subprocess.Popen(web_command(str(port)), cwd=BASE_DIR, env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: server.poll() is not None or served_answers(url), timeout=90)
            assert server.poll() is None, log_path.read_text()[-3000:]
            yield url
        finally:
            server.terminate()
            server.wait(timeout=30)


def _fuzz(schema: Any, url: str, headers: dict[str, str], role: str) -> list[str]:
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()
        for _ in range(EXAMPLES_PER_OPERATION):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NonInteractiveExampleWarning)
                case = strategy.example()
            response = case.call(base_url=url, headers=headers, timeout=60)
            if response.status_code >= 500:
                failures.append(f"{role}: {operation.label} answered {response.status_code}: "
                                f"{response.text[:200]}")
    return failures


def _options_with_bodies(schema: Any, url: str, headers: dict[str, str], role: str) -> list[str]:
    """What the schemathesis CLI's coverage phase sends and the schema does not list."""
    failures = []
    paths = {result.ok().path for result in schema.get_all_operations()}
    for path in sorted(paths):
        address = url + path.replace("{id}", "1").replace("{pk}", "1")
        for body in ({"files": {"photo": ("p.jpg", b"not a photo")}, "data": {"email": "a@b.c"}},
                     {"json": {"anything": 1}}, {}):
            response = requests.options(address, headers=headers, timeout=60, **body)  # type: ignore[arg-type]
            if response.status_code >= 500:
                failures.append(f"{role}: OPTIONS {path} answered {response.status_code}")
    return failures


def test_the_served_api_gives_no_server_error_to_any_role(cast, served_portal) -> None:
    roles = {"officer": cast.officer, "supervisor": cast.supervisor, "agency admin": cast.admin,
             "auditor": cast.auditor, "platform operator": cast.operator}
    case = assigned_case(cast.agency, cast.officer, justification=MARKUP)
    search = Search.objects.create(agency=cast.agency, case=case, requested_by=cast.officer, probe="",
                                   status=SearchStatus.DONE, faces_found=0)
    failures: list[str] = []
    for role, user in roles.items():
        headers = {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
        schema = schemathesis.openapi.from_url(f"{served_portal}/api/v1/schema/?format=json",
                                               headers=headers)
        failures += _fuzz(schema, served_portal, headers, role)
        failures += _options_with_bodies(schema, served_portal, headers, role)
        report = requests.get(f"{served_portal}/api/v1/searches/{search.pk}/disclosure.pdf",
                              headers=headers, timeout=60)
        if report.status_code >= 500:
            failures.append(f"{role}: the disclosure report answered {report.status_code}")
    failures += _options_with_bodies(schema, served_portal, {}, "anonymous")
    assert not failures, "\n".join(sorted(set(failures)))

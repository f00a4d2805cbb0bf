"""The cast, real enrolled galleries, a real Celery worker and a real browser."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agencies.accounts.mfa import confirmed_device, current_code
from agencies.tenancy.models import Agency, Role
from agencies.tenancy.permissions import SYSTEM
from portal.db import scope
from search.models import Gallery, Search
from search.services import searching
from search.services.enrollment import face_enroll
from tests import photos
from tests.factories import (
    TOTP_SECRET,
    AgencyFactory,
    GalleryFactory,
    assigned_case,
    member,
    platform_operator,
)

# Playwright's sync API runs an event loop in this thread; the ORM calls made by tests around it
# are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "test-artifacts"
ENROLLED_PEOPLE = 5  # people per test gallery; photos 0 and 1 enrolled, photo 2 held out


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    """Rate-limit and throttle counters live in the shared cache; each test starts from zero."""
    from django.core.cache import cache

    cache.clear()  # the cache is Redis database 1; the Celery queues in database 0 are untouched


@pytest.fixture(autouse=True)
def _tests_see_every_agency() -> Iterator[None]:
    """Test code arranges and inspects rows of several agencies, as a DBA would; the requests,
    tasks and commands it drives set their own row-level security scope, and only theirs."""
    with scope.rows(scope.EVERYTHING):
        yield


@dataclass
class Cast:
    agency: Agency
    other_agency: Agency
    officer: Any
    supervisor: Any
    admin: Any
    auditor: Any
    other_officer: Any
    other_admin: Any
    operator: Any  # the platform operator: of no agency, sees the platform pages


@pytest.fixture
def cast(db: Any) -> Cast:
    agency = AgencyFactory(slug="north", name="North County Sheriff")
    other = AgencyFactory(slug="south", name="South City Police")
    return Cast(
        agency=agency, other_agency=other,
        officer=member(agency, Role.OFFICER, "alice"),
        supervisor=member(agency, Role.SUPERVISOR, "bob"),
        admin=member(agency, Role.AGENCY_ADMIN, "dana"),
        auditor=member(agency, Role.AUDITOR, "erin"),
        other_officer=member(other, Role.OFFICER, "charlie"),
        other_admin=member(other, Role.AGENCY_ADMIN, "oscar"),
        operator=platform_operator(),
    )


@pytest.fixture
def operator(cast: Cast) -> Any:
    """The cast's platform operator, for tests that need no one else by name."""
    return cast.operator


def enroll_people(gallery: Gallery, count: int = ENROLLED_PEOPLE) -> list[str]:
    """Enroll the first two fixture photos of `count` people; return their names."""
    names = photos.people()[:count]
    for name in names:
        for index in (0, 1):
            face_enroll(actor=SYSTEM,
                        gallery=gallery, subject_reference=name, image=photos.photo(name, index),
                        display_name=name.replace("_", " "))
    return names


@pytest.fixture
def galleries(cast: Cast) -> tuple[Gallery, Gallery]:
    """The same people enrolled in both agencies, so a leak across tenants would show."""
    mine = GalleryFactory(agency=cast.agency, name="North bookings")
    theirs = GalleryFactory(agency=cast.other_agency, name="South bookings")
    enroll_people(mine)
    enroll_people(theirs)
    return mine, theirs


@pytest.fixture
def search(cast: Cast) -> Search:
    """A finished search of alice's case 2026-0101 (approved by bob) in a gallery of two people."""
    gallery = GalleryFactory(agency=cast.agency, name="North bookings")
    enroll_people(gallery, count=2)
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0101",
                         decided_by=cast.supervisor)
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Ariel_Sharon", 2))
    searching.search_run(search_id=search.pk)
    return search


def api_client(user: Any) -> APIClient:
    """An API client that authenticates as `user` with a token, as scripts do."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_queues() -> dict[str, list[str]]:
    """The queues the test workers consume, as `make run` splits them: searches (with the
    periodic jobs' default queue) on one worker, bulk enrollment on another."""
    from django.conf import settings

    routes = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    bulk = sorted(q for q in routes if q.startswith("bulk"))
    return {"searches": [settings.CELERY_TASK_DEFAULT_QUEUE, *sorted(routes - set(bulk))],
            "bulk": bulk}


@pytest.fixture(scope="session")
def celery_worker(django_db_setup: Any, django_db_blocker: Any) -> Iterator[subprocess.Popen[bytes]]:
    """Real `celery worker` processes on the real broker, using the test database: one for
    searches and periodic jobs (yielded), one for bulk enrollment."""
    from django.conf import settings

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test",
           "CASEBOUND_DB_NAME": settings.DATABASES["default"]["NAME"]}
    workers = {name: _start_worker(name, queues, env) for name, queues in test_queues().items()}
    for name, (worker, _log) in workers.items():
        _wait_until_ready(worker, ARTIFACTS / f"celery-{name}.log")
    yield workers["searches"][0]
    for worker, log in workers.values():
        worker.terminate()
        worker.wait(timeout=30)
        log.close()


def _start_worker(name: str, queues: list[str], env: dict[str, str]) -> tuple[Any, Any]:
    log = (ARTIFACTS / f"celery-{name}.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool", "solo",
         "--loglevel", "info", "--queues", ",".join(queues),
         "--hostname", f"test-{name}-{uuid.uuid4().hex[:8]}@%h", "--without-mingle",
         "--without-gossip"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    return worker, log


def _wait_until_ready(worker: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while b"ready." not in log.read_bytes():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"The Celery worker did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def wait_for(check: Any, timeout: float = 60, interval: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright. Without Chromium, skip loudly, except in CI."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        message = "NO CHROMIUM: browser tests cannot run. Install Debian's chromium (make browser)."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


class _CountingApp:
    """The live server's WSGI application, counting the requests it is running."""

    def __init__(self, app: Any) -> None:
        self.app, self.running, self.lock = app, 0, threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        with self.lock:
            self.running += 1
        try:
            return self.app(environ, start_response)  # the view, and every write it makes
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture(autouse=True)
def _live_server_settles(request: pytest.FixtureRequest) -> Iterator[None]:
    """Before a live-server test's database is flushed, let the requests the server is still
    running end. A closed browser tab can leave one behind (an image view writing its audit
    event); the flush's TRUNCATE then deadlocks with it, the flush fails, and the next test
    starts on the last one's rows."""
    if "live_server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("live_server")  # so that this teardown runs before the flush
    httpd = server.thread.httpd
    if not isinstance(httpd.get_app(), _CountingApp):
        httpd.set_app(_CountingApp(httpd.get_app()))
    yield
    deadline = time.monotonic() + 15
    while httpd.get_app().running and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Any, username: str, password: str) -> None:
    """Password, then the second factor, as a person does it."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code from your authenticator app").fill(current_code(TOTP_SECRET))
    page.get_by_role("button", name="Verify").click()


def web_client(user: Any) -> Client:
    """A browser session of `user` that has passed both factors."""
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = confirmed_device(user).persistent_id
    session.save()
    return client


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def served_answers(url: str) -> bool:
    """Whether the served portal answers its liveness probe yet (gunicorn listens before its
    workers have booted, so a refused or slow connection means not yet)."""
    import requests

    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False

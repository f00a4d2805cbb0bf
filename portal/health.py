"""/healthz (the process answers) and /readyz (it can do its work), for load balancers and monitors.

Answered by a middleware placed before sessions, sign-in, the account gate and the host check, so a
probe needs no account, touches no session and may use any Host header (a balancer asks by
address). The answers name each check and whether it passed, never why in detail: an exception's
text can carry a broker URL with its password, or a path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from portal.celery import app
from portal.recipes import weight_files
from portal.weights import WEIGHT_FILES, weights_dir

logger = logging.getLogger(__name__)

# Each worker answers a broadcast within this; a busy prefork worker still answers (its parent
# process does), so a worker missing this long is gone or wedged.
WORKER_REPLY_SECONDS = 1.0
BROKER_CONNECT_SECONDS = 2.0

Check = dict[str, Any]


def database_check() -> Check:
    """The database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        logger.exception("readyz: the database does not answer")
        return {"ok": False}
    return {"ok": True}


def expected_queues() -> set[str]:
    """Every queue a task can be sent to: the routed ones and the default (periodic jobs)."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return routed | {settings.CELERY_TASK_DEFAULT_QUEUE}


def broker_and_workers_checks() -> dict[str, Check]:
    """The broker accepts a connection, and each queue has a live worker consuming it."""
    with app.connection_for_write(url=settings.CELERY_BROKER_URL,
                                  connect_timeout=BROKER_CONNECT_SECONDS) as broker:
        try:
            broker.ensure_connection(max_retries=0)
        except Exception:
            logger.exception("readyz: the broker does not answer")
            return {"broker": {"ok": False}, "workers": {"ok": False, "queues_without_worker":
                                                         sorted(expected_queues())}}
        served = workers_by_queue(broker)
    missing = sorted(expected_queues() - set(served))
    return {"broker": {"ok": True}, "workers": {"ok": not missing, "queues_without_worker": missing}}


def workers_by_queue(broker: Any) -> dict[str, set[str]]:
    """The live workers (host names) consuming each queue, from an `active_queues` broadcast."""
    replies = app.control.inspect(timeout=WORKER_REPLY_SECONDS,
                                  connection=broker).active_queues() or {}
    served: dict[str, set[str]] = {}
    for worker, queues in replies.items():
        for queue in queues:
            served.setdefault(queue["name"], set()).add(worker)
    return served


def weights_check() -> Check:
    """The weight files of the detectors and of every registered recipe are where the models load
    them from (never downloaded)."""
    wanted = [*WEIGHT_FILES, *(name for name in weight_files() if name not in WEIGHT_FILES)]
    missing = [name for name in wanted if not (weights_dir() / name).is_file()]
    return {"ok": not missing, "missing_files": missing}


def calibration_check() -> Check:
    """The score calibration of the face recipe is in place: without it no search draws its line."""
    from search.checks import calibration_problem  # the app's check, run late: health is imported first

    return {"ok": calibration_problem() is None}


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    checks = {"database": database_check(), **broker_and_workers_checks(),
              "model_weights": weights_check(), "calibration": calibration_check()}
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if ready else "failing", "checks": checks},
                        status=200 if ready else 503)


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {"/healthz": healthz, "/readyz": readyz}


class HealthMiddleware:
    """Answers the probes before any middleware that needs a session, an account or a known host."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return JsonResponse({"code": "method_not_allowed", "detail": "Use GET."}, status=405,
                                headers={"Allow": "GET, HEAD"})
        response = probe(request)
        response["Cache-Control"] = "no-store"
        return response

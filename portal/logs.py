"""Structured logs: JSON lines from web, workers and beat, each carrying the request id.

A request id follows one piece of work across processes: taken from the client's X-Request-ID
when it is well formed (a balancer or an API client may have logged it already) or made here,
returned in the response, sent with every Celery message the request queues (a message header),
bound again in the worker that runs it, and stored with the audit events either writes
(`AuditEvent.request_id`). Every log line of that work then names it, whatever logger wrote it:
the stdlib loggers (ours, Django's, Celery's) are rendered by structlog's formatter, which adds
the context variables bound here.
"""

from __future__ import annotations

import logging
import logging.config
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import structlog
from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "casebound_request_id"
# Letters, digits and . _ : - only, at most 64: what tracing tools send (UUIDs, trace ids), and
# nothing that could forge a log line or overflow the audit column.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id: ContextVar[str | None] = ContextVar("casebound_request_id", default=None)
logger = logging.getLogger("casebound.request")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(offered: str | None) -> str:
    """The client's id when it is well formed; a new one otherwise (never refused for it)."""
    return offered if offered and _WELL_FORMED.fullmatch(offered) else new_request_id()


def bind_request_id(value: str | None) -> None:
    """Make `value` the id of the work this context does, for log lines and audit events."""
    request_id.set(value)
    structlog.contextvars.clear_contextvars()
    if value:
        structlog.contextvars.bind_contextvars(request_id=value)


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def logging_config(*, json: bool, level: str) -> dict[str, Any]:
    """Django's LOGGING: every record through one structlog formatter, JSON or readable."""
    renderer: Any = (structlog.processors.JSONRenderer() if json
                     else structlog.dev.ConsoleRenderer(colors=False))
    final = [structlog.stdlib.ProcessorFormatter.remove_processors_meta,
             *([structlog.processors.format_exc_info] if json else []), renderer]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": structlog.stdlib.ProcessorFormatter,
                                      "processors": final,
                                      "foreign_pre_chain": _shared_processors()}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "axes": {"level": "WARNING"},  # failures are in the audit trail already
            # Our request line replaces gunicorn's access log (it carries the request id).
            "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
        },
    }


def configure_structlog() -> None:
    """structlog's own loggers (structlog.get_logger) end in the same stdlib handlers."""
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def view_label(request: HttpRequest) -> str:
    """The view that answered, by URL name: bounded label values, no ids from the path."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name or match._func_path
    if request.path_info in ("/healthz", "/readyz", "/metrics"):
        return request.path_info.lstrip("/")  # answered by a middleware, before URL resolution
    return "unresolved"


class RequestContextMiddleware:
    """First in the chain: binds the request id, returns it, and logs one line per request with
    its view, status and duration (also the latency metric), so every later line can be joined."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from portal import metrics

        rid = accepted_request_id(request.headers.get(REQUEST_ID_HEADER))
        bind_request_id(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            seconds = time.perf_counter() - started
        response[REQUEST_ID_HEADER] = rid
        view = view_label(request)
        metrics.request_observe(view=view, method=request.method or "", seconds=seconds)
        logger.info("request", extra={"method": request.method, "path": request.path_info,
                                      "view": view, "status": response.status_code,
                                      "duration_ms": round(seconds * 1000, 1)})
        bind_request_id(None)
        return response


# Celery: the id travels in a message header and is bound again in the worker.

def request_id_headers(value: str | None) -> dict[str, str]:
    """Message headers that give a task queued later (a search run again) its request's id."""
    return {TASK_HEADER: value} if value else {}


def add_request_id_header(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """before_task_publish: a task queued while serving a request carries its id, unless the
    publisher named the id of the work it queues again (`request_id_headers`)."""
    current = request_id.get()
    if headers is not None and current and not headers.get(TASK_HEADER):
        headers[TASK_HEADER] = current


def bind_task_context(task: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    """task_prerun: the worker's log lines and audit events of this task carry the request's id."""
    offered = getattr(task.request, TASK_HEADER, None) if task is not None else None
    if offered is None and task is not None:
        offered = (getattr(task.request, "headers", None) or {}).get(TASK_HEADER)
    bind_request_id(offered if offered and _WELL_FORMED.fullmatch(str(offered)) else None)
    structlog.contextvars.bind_contextvars(task_id=task_id, task=getattr(task, "name", None))


def clear_task_context(**kwargs: Any) -> None:
    """task_postrun: a worker process runs many tasks; nothing carries over to the next one."""
    bind_request_id(None)

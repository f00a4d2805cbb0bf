"""Prometheus figures that events produce, recorded where they happen.

Gunicorn serves with several processes and searches finish in Celery's, so each process writes its
samples to files in PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode; set by the
settings before this module is imported, wiped by `make run` at start) and /metrics adds them up
(portal/monitoring.py). Figures that describe a state (queue lengths, workers, faces, index size)
are read at scrape time instead, so they are right whichever process or host changed them.
Labels never name an agency, a user or a case: whoever reads the metrics sees totals only.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Histogram

REQUEST_SECONDS = Histogram(
    "casebound_http_request_duration_seconds", "Time to answer a request, by view and method",
    ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
SEARCHES = Counter(
    "casebound_searches_total",
    "Searches by outcome: done, no_face, failed (code: why) or refused when requested (code)",
    ["outcome", "code"])
STAGE_SECONDS = Histogram(
    "casebound_search_stage_seconds", "Time per pipeline stage of a finished search",
    ["stage"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


# The client writes the method: any other word would be a new series each, without bound.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_observe(*, view: str, method: str, seconds: float) -> None:
    label = method if method in METHODS else "other"
    REQUEST_SECONDS.labels(view=view, method=label).observe(seconds)


def search_finished(*, status: str, code: str = "", timings: Mapping[str, float] | None = None) -> None:
    """Count a search that reached a final status and time its stages."""
    SEARCHES.labels(outcome=status, code=code or "").inc()
    for stage, seconds in (timings or {}).items():
        STAGE_SECONDS.labels(stage=stage).observe(float(seconds))


def search_refused(*, code: str) -> None:
    """Count a search refused when it was requested (no search row exists for it)."""
    SEARCHES.labels(outcome="refused", code=code).inc()


def searches_failed(*, code: str, count: int) -> None:
    """Count searches failed in bulk (the sweeper's `worker_lost`)."""
    if count:
        SEARCHES.labels(outcome="failed", code=code).inc(count)

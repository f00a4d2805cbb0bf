"""/metrics for Prometheus: readable from the loopback or with the bearer token, nobody else.

Answered by a middleware beside the health probes (before sessions, sign-in and the host check: a
scraper has no account and asks by address). To anyone else the address does not exist: the request
goes on through the site and gets what any unknown address gets, so nothing hints at a metrics
endpoint. Event figures come from every process's files (portal/metrics.py); state figures are read
here at scrape time from Redis, the workers and Postgres.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from portal.celery import app
from portal.client_ip import client_ip
from portal.config import setting
from portal.health import BROKER_CONNECT_SECONDS, expected_queues, workers_by_queue

logger = logging.getLogger(__name__)
METRICS_PATH = "/metrics"
# kombu's Redis transport keeps a message with a priority in "<queue>\x06\x16<step>".
PRIORITY_KEYS = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def metrics_allowed(request: HttpRequest) -> bool:
    """The bearer token (CASEBOUND_METRICS_TOKEN) or a client on this machine.

    The address is portal.client_ip's: behind a proxy on this machine REMOTE_ADDR is the loopback
    for everyone, so the client that the trusted proxies saw must be on the loopback too.
    """
    token = str(setting("METRICS_TOKEN") or "")
    offered = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return True
    try:
        return ipaddress.ip_address(client_ip(request)).is_loopback
    except ValueError:
        return False


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def queue_metrics() -> Iterator[Metric]:
    """Messages waiting in each queue, and the live workers consuming it (as /readyz finds them)."""
    waiting = GaugeMetricFamily("casebound_queue_messages", "Messages waiting in a Celery queue",
                                labels=["queue"])
    workers = GaugeMetricFamily("casebound_queue_workers", "Live workers consuming a Celery queue",
                                labels=["queue"])
    with app.connection_for_read(url=settings.CELERY_BROKER_URL,
                                 connect_timeout=BROKER_CONNECT_SECONDS) as broker:
        try:
            broker.ensure_connection(max_retries=0)
            client = broker.default_channel.client  # type: ignore[attr-defined]  # kombu Redis
            lengths = {queue: sum(int(client.llen(queue + suffix)) for suffix in PRIORITY_KEYS)
                       for queue in sorted(expected_queues())}
            served = workers_by_queue(broker)
        except Exception:
            logger.exception("metrics: the broker does not answer")
            yield _gauge("casebound_broker_up", "The broker answered this scrape", 0)
            return
    for queue, length in lengths.items():
        waiting.add_metric([queue], length)
        workers.add_metric([queue], len(served.get(queue, ())))
    yield from (_gauge("casebound_broker_up", "The broker answered this scrape", 1), waiting, workers)


def store_metrics() -> Iterator[Metric]:
    """Faces held and the vector graphs' size, totals over every agency."""
    from agencies.audit.bypass import platform_rows
    from search.engine.vector_index import index_figures

    try:
        # Counting every agency's faces needs the platform's scope; record_idle=False with nothing
        # changed writes no audit event per scrape (only totals leave this function).
        with platform_rows("metrics: count faces", record_idle=False):
            figures = index_figures()
    except Exception:
        logger.exception("metrics: the database does not answer")
        yield _gauge("casebound_database_up", "The database answered this scrape", 0)
        return
    yield _gauge("casebound_database_up", "The database answered this scrape", 1)
    yield _gauge("casebound_faces", "Enrolled faces, all agencies", figures["faces"])
    yield _gauge("casebound_vector_indexes", "Per-agency HNSW graphs built", figures["graphs"])
    yield _gauge("casebound_vector_index_bytes", "Bytes on disk of the per-agency HNSW graphs",
                 figures["graph_bytes"])


class StateCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from queue_metrics()
        yield from store_metrics()


def metrics_text() -> bytes:
    """Every process's event figures (the multiprocess files) and the state read now."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # PROMETHEUS_MULTIPROC_DIR: set by the settings, always
    registry.register(StateCollector())
    return generate_latest(registry)


class MetricsMiddleware:
    """Answers /metrics to the loopback or the token holder; for anyone else it does not exist."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (request.path_info != METRICS_PATH or request.method not in ("GET", "HEAD")
                or not metrics_allowed(request)):
            return self.get_response(request)
        response = HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
        response["Cache-Control"] = "no-store"
        return response


"""Which worker processes are alive: each process that claims work names itself and keeps a
heartbeat in Redis, so work claimed by a process that is gone can be given back in seconds.

The name is host, pid and a random instance id: a pid reused after a crash (or in a container
that restarts as pid 1) never passes for the process that died. In a Celery worker the host is
the node name (`--hostname`, e.g. `searches@host-a`), so a claim says which worker, on which
machine, ran the search (docs/scaling.md). The heartbeat is a key with a
time to live, refreshed by a daemon thread; a killed process stops refreshing it, and its key
expires within `heartbeat_ttl()` seconds. It lives in the broker's Redis database 0 (not the
cache in database 1, which tests and operators may flush).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable

import redis
from django.conf import settings

logger = logging.getLogger(__name__)
KEY_PREFIX = "casebound:worker-alive:"

_lock = threading.Lock()
_identity: dict[int, str] = {}  # pid -> name: a forked child names itself anew
_node: dict[str, str] = {}  # "name": the Celery node, set before the pool forks


def node_name_set(name: str) -> None:
    """Name this worker's claims after its Celery node (called when the worker starts)."""
    _node["name"] = name


def heartbeat_ttl() -> int:
    """Seconds after its last heartbeat that a worker counts as gone."""
    return int(settings.CASEBOUND["WORKER_HEARTBEAT_TTL"])


def _client() -> redis.Redis:
    url = settings.CELERY_BROKER_URL
    if url.startswith("redis+socket://"):  # Celery's spelling of a unix socket
        url = "unix://" + url.removeprefix("redis+socket://").split("?")[0]
    return redis.Redis.from_url(url, socket_timeout=5)


def worker_identity() -> str:
    """This process's name for claims; the first call starts its heartbeat."""
    pid = os.getpid()
    with _lock:
        if pid not in _identity:
            host = (_node.get("name") or socket.gethostname())[:150]  # the column holds 200
            name = f"{host}:{pid}:{uuid.uuid4().hex[:12]}"
            _beat(_client(), name)  # the key exists before any claim names it
            threading.Thread(target=_keep_beating, args=(name,), daemon=True,
                             name="casebound-heartbeat").start()
            _identity[pid] = name
        return _identity[pid]


def _beat(client: redis.Redis, name: str) -> None:
    client.set(KEY_PREFIX + name, "1", ex=heartbeat_ttl())


def _keep_beating(name: str) -> None:
    client = _client()
    interval = max(1.0, heartbeat_ttl() / 3)
    stop = threading.Event()
    while not stop.wait(interval):
        try:
            _beat(client, name)
        except redis.RedisError:  # the broker is away: the claims may be given back, harmlessly
            logger.warning("worker heartbeat not written; will retry", exc_info=True)


def live_workers(names: Iterable[str]) -> set[str]:
    """Those of `names` whose heartbeat has not expired."""
    names = sorted(set(names))
    if not names:
        return set()
    values = _client().mget([KEY_PREFIX + name for name in names])
    return {name for name, value in zip(names, values, strict=True) if value is not None}

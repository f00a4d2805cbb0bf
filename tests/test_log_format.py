"""`make run` logs JSON lines and `make dev` readable ones; the web server is started with the
JSON logging of gunicorn's own lines, and each run starts with an empty metrics folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal import devservices

SNIPPET = ("import django, logging; django.setup(); "
           "logging.getLogger('casebound.check').warning('hello %s', 'there')")


def _log_line(**env: str) -> str:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("CASEBOUND_DEBUG", "CASEBOUND_LOG_FORMAT")}
    environment.update(DJANGO_SETTINGS_MODULE="portal.settings.local", **env)
    done = subprocess.run([sys.executable, "-c", SNIPPET], env=environment, capture_output=True,
                          text=True, timeout=120, cwd=devservices.BASE_DIR)
    assert done.returncode == 0, done.stderr
    return next(line for line in done.stderr.splitlines() if "hello there" in line)


def test_make_run_settings_log_json_lines() -> None:
    line = json.loads(_log_line())
    assert line["event"] == "hello there" and line["level"] == "warning"
    assert line["logger"] == "casebound.check" and line["timestamp"].endswith("Z")


def test_make_dev_logs_readable_lines_unless_json_is_asked_for() -> None:
    readable = _log_line(CASEBOUND_DEBUG="1")
    assert not readable.startswith("{") and "hello there" in readable
    assert json.loads(_log_line(CASEBOUND_DEBUG="1", CASEBOUND_LOG_FORMAT="json"))["event"]


def test_gunicorn_logs_through_our_formatter_without_its_access_log(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEBOUND_DEBUG", raising=False)
    command = devservices.web_command("8107")
    assert command[command.index("--config") + 1] == "python:portal.gunicorn_conf"
    assert "--access-logfile" not in command
    from portal import gunicorn_conf

    assert gunicorn_conf.accesslog is None
    formatter = gunicorn_conf.logconfig_dict["formatters"]["structured"]
    assert "JSONRenderer" in repr(formatter["processors"])


def test_serve_starts_with_an_empty_metrics_folder(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"old run")
    devservices.metrics_dir_reset({"PROMETHEUS_MULTIPROC_DIR": str(folder)})
    assert folder.is_dir() and not any(folder.iterdir())

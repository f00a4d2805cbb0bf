"""The embedded Postgres is sized from the machine it runs on."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal import devservices

GIB = 2**30


@pytest.mark.parametrize(("memory", "expected"), [
    (2 * GIB, "1GB"),  # never below the 1 GB this project used before
    (24 * GIB, "6GB"),  # a quarter
    (23.5 * GIB, "5GB"),  # whole GB, rounded down
    (256 * GIB, "8GB"),  # a cap: the OS cache serves the rest
])
def test_shared_buffers_are_a_quarter_of_memory_within_bounds(memory: float, expected: str) -> None:
    assert devservices.default_shared_buffers(int(memory)) == expected


def test_a_container_limit_lower_than_the_machine_wins(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    unlimited, limited = tmp_path / "max", tmp_path / "limit"
    unlimited.write_text("max\n")
    limited.write_text(f"{3 * GIB}\n")
    monkeypatch.setattr(devservices, "CGROUP_MEMORY_LIMITS", (str(unlimited), str(tmp_path / "none")))
    machine = devservices.memory_bytes()
    assert machine > 3 * GIB
    monkeypatch.setattr(devservices, "CGROUP_MEMORY_LIMITS", (str(unlimited), str(limited)))
    assert devservices.memory_bytes() == 3 * GIB


@pytest.mark.parametrize(("cores", "expected"), [(1, 3), (2, 5), (4, 9), (64, 9)])
def test_web_workers_are_two_per_core_plus_one_with_a_cap(cores: int, expected: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEBOUND_WEB_WORKERS", raising=False)
    assert devservices.web_workers(cores) == expected


@pytest.mark.parametrize(("configured", "expected"), [("3", 3), ("0", 5), ("many", 5)])
def test_an_operator_may_set_the_web_workers(configured: str, expected: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBOUND_WEB_WORKERS", configured)
    assert devservices.web_workers(2) == expected


def test_make_run_serves_with_gunicorn_after_collecting_the_static_files(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEBOUND_DEBUG", raising=False)
    command = devservices.web_command("8114")
    assert command[1:4] == ["-m", "gunicorn", "portal.wsgi:application"]
    assert "127.0.0.1:8114" in command and "runserver" not in command
    steps = [step[2] for step in devservices.setup_commands("python")]
    assert steps == ["migrate", "collectstatic", "seed_demo"]


def test_make_dev_serves_with_runserver_and_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEBOUND_DEBUG", "1")
    assert devservices.web_command("8114")[2:] == ["runserver", "--noreload", "127.0.0.1:8114"]
    assert [step[2] for step in devservices.setup_commands("python")] == ["migrate", "seed_demo"]

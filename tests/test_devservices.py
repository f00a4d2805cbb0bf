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

"""A bounded load test against a served portal: officers search over HTTP while an admin
bulk-enrolls, and the database is then held to its own accounting.

Each officer is a thread with its own token and case: submit a probe (`POST /api/v1/searches/`),
poll the search list (metadata only, not audited) until the search is final, then open it once
(`GET /api/v1/searches/{id}/`, audited like an officer reading the results) and think. The time
from the submit to that answer is "probe to candidates". The phases run one after the other:
`idle` for the given duration, then `enrolling` from the bulk upload until the batch is done.
"""

from __future__ import annotations

import contextlib
import io
import random
import statistics
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

FINAL = {"done", "no_face", "failed"}


@dataclass(frozen=True)
class Officer:
    username: str
    token: str
    case_id: int


@dataclass
class Sample:
    """One submitted search as its officer saw it."""

    phase: str
    probe: str = ""  # the probe photo's file name
    search_id: int | None = None
    seconds: float | None = None  # submit to candidates visible; None if never seen final
    status: str = ""
    error: str = ""


@dataclass
class Run:
    """What the threads record; the lock guards `samples` and `throttled`."""

    base_url: str
    probes: list[tuple[str, bytes]]
    think_seconds: float
    search_timeout: float
    poll_seconds: float = 0.25
    phase: str = "warmup"
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    samples: list[Sample] = field(default_factory=list)
    throttled: int = 0

    def record(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def officer_loop(run: Run, officer: Officer, seed: int) -> None:
    """Search, wait for the candidates, think; until the run stops."""
    rng = random.Random(seed)  # which photo to send, not a secret
    session = requests.Session()
    session.headers.update(_headers(officer.token))
    while not run.stop.is_set():
        name, photo = rng.choice(run.probes)
        sample = Sample(phase=run.phase, probe=name)
        _one_search(run, session, officer, (name, photo), sample)
        if sample.search_id is not None or sample.error:
            run.record(sample)
        run.stop.wait(run.think_seconds)


def _one_search(run: Run, session: requests.Session, officer: Officer,
                probe: tuple[str, bytes], sample: Sample) -> None:
    started = time.perf_counter()
    try:
        answer = session.post(f"{run.base_url}/api/v1/searches/", data={"case": officer.case_id},
                              files={"probe": (probe[0], probe[1], "image/jpeg")}, timeout=60)
    except requests.RequestException as error:
        sample.error = f"submit: {type(error).__name__}"
        return
    if answer.status_code == 429:  # the per-officer rate limit: not a search, counted apart
        with run.lock:
            run.throttled += 1
        return
    if answer.status_code != 202:
        sample.error = f"submit answered {answer.status_code}"
        return
    sample.search_id = int(answer.json()["id"])
    _await_candidates(run, session, sample, started)


def _await_candidates(run: Run, session: requests.Session, sample: Sample, started: float) -> None:
    deadline = started + run.search_timeout
    try:
        while time.perf_counter() < deadline:
            listed = session.get(f"{run.base_url}/api/v1/searches/", params={"limit": 10}, timeout=60)
            if listed.status_code != 200:
                sample.error = f"list answered {listed.status_code}"
                return
            mine = [s for s in listed.json()["results"] if s["id"] == sample.search_id]
            if mine and mine[0]["status"] in FINAL:
                opened = session.get(f"{run.base_url}/api/v1/searches/{sample.search_id}/", timeout=60)
                if opened.status_code != 200:
                    sample.error = f"results answered {opened.status_code}"
                    return
                sample.seconds = time.perf_counter() - started
                sample.status = opened.json()["status"]
                if sample.status == "failed":
                    sample.error = f"search failed: {opened.json().get('error_code')}"
                return
            time.sleep(run.poll_seconds)
    except requests.RequestException as error:
        sample.error = f"waiting: {type(error).__name__}"
        return
    sample.error = f"not final within {run.search_timeout:.0f} s"


def bulk_archive(photos: list[Path], root: Path) -> bytes:
    """A ZIP of the photos with the manifest the bulk upload reads (subject = the LFW folder)."""
    buffer, lines = io.BytesIO(), ["file,subject_reference"]
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in photos:
            name = str(path.relative_to(root))
            archive.write(path, name)
            lines.append(f"{name},{path.parent.name}")
        archive.writestr("manifest.csv", "\n".join(lines) + "\n")
    return buffer.getvalue()


@dataclass
class Enrollment:
    photos: int
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""


def bulk_enroll(base_url: str, token: str, gallery_id: int, archive: bytes, photos: int,
                timeout: float) -> Enrollment:
    """Upload the archive as the agency admin and wait until the batch is done."""
    result, started = Enrollment(photos=photos), time.perf_counter()
    answer = requests.post(f"{base_url}/api/v1/galleries/{gallery_id}/batches/",
                           files={"archive": ("load-test.zip", archive, "application/zip")},
                           headers=_headers(token), timeout=300)
    if answer.status_code != 202:
        result.error = f"upload answered {answer.status_code}: {answer.text[:200]}"
        return result
    batch_id = answer.json()["id"]
    while time.perf_counter() - started < timeout:
        batch = requests.get(f"{base_url}/api/v1/batches/{batch_id}/", headers=_headers(token),
                             timeout=60).json()
        if batch["status"] == "done":
            result.seconds, result.counts = time.perf_counter() - started, batch["counts"]
            return result
        time.sleep(1.0)
    result.error = f"batch not done within {timeout:.0f} s"
    return result


@contextlib.contextmanager
def officers_running(run: Run, officers: list[Officer]) -> Iterator[None]:
    """The officers' threads, stopped (each after its search in flight) when the block ends."""
    threads = [threading.Thread(target=_staggered, args=(run, officer, index), daemon=True,
                                name=f"officer-{index}") for index, officer in enumerate(officers)]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        run.stop.set()
        for thread in threads:
            thread.join(timeout=run.search_timeout + 120)


def _staggered(run: Run, officer: Officer, index: int) -> None:
    # Officers who all submit in the same instant would measure a burst, not a shift.
    run.stop.wait(random.Random(index).uniform(0, run.think_seconds))
    officer_loop(run, officer, seed=index)


def run_phases(run: Run, officers: list[Officer], warmup_seconds: float, idle_seconds: float,
               enroll: Callable[[], Enrollment] | None) -> tuple[dict[str, float], Enrollment | None]:
    """`warmup`, `idle` for `idle_seconds`, then `enrolling` while `enroll` runs; the phases'
    wall times."""
    walls, enrollment = {}, None
    with officers_running(run, officers):
        for phase, seconds in (("warmup", warmup_seconds), ("idle", idle_seconds)):
            if seconds <= 0:
                continue
            run.phase, started = phase, time.perf_counter()
            run.stop.wait(seconds)
            walls[phase] = time.perf_counter() - started
        if enroll is not None:
            run.phase, started = "enrolling", time.perf_counter()
            enrollment = enroll()
            walls["enrolling"] = time.perf_counter() - started
    return walls, enrollment


def percentile(values: list[float], q: int) -> float | None:
    """The q-th percentile (inclusive method), None without values."""
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def phase_figures(samples: list[Sample], wall: float) -> dict[str, Any]:
    """Throughput, latency and errors of the searches submitted in one phase."""
    seen = [s.seconds for s in samples if s.seconds is not None and not s.error]
    p50, p95 = percentile(seen, 50), percentile(seen, 95)
    return {"seconds": round(wall, 1), "searches": len(samples), "completed": len(seen),
            "errors": sum(1 for s in samples if s.error),
            "throughput_per_s": round(len(seen) / wall, 2) if wall else 0.0,
            "p50_s": None if p50 is None else round(p50, 3),
            "p95_s": None if p95 is None else round(p95, 3),
            "max_s": round(max(seen), 3) if seen else None}  # a stall (a switch's lock) shows here


def accounting(search_ids: list[int], drain_seconds: float) -> dict[str, Any]:
    """Every submitted search in a final state and billed as its outcome says: once if it ran
    (done or no face), never if it failed. Waits up to `drain_seconds` for stragglers."""
    from agencies.billing.models import UsageEvent
    from search.models import FINISHED_STATUSES, Search, SearchStatus

    deadline = time.monotonic() + drain_seconds
    while True:
        rows = dict(Search.objects.filter(pk__in=search_ids).values_list("pk", "status"))
        unfinished = [pk for pk in search_ids if rows.get(pk) not in FINISHED_STATUSES]
        if not unfinished or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    billed = set(UsageEvent.objects.filter(key__in=[f"search:{pk}" for pk in search_ids])
                 .values_list("key", flat=True))
    ran = (SearchStatus.DONE, SearchStatus.NO_FACE)
    wrong = [pk for pk in search_ids if pk not in unfinished
             and (rows[pk] in ran) != (f"search:{pk}" in billed)]
    workers = set(Search.objects.filter(pk__in=search_ids).exclude(claimed_by="")
                  .values_list("claimed_by", flat=True))
    return {"submitted": len(search_ids), "finished": len(search_ids) - len(unfinished),
            "lost": sorted(unfinished), "billed": len(billed), "billing_mismatches": sorted(wrong),
            "worker_processes": len(workers)}

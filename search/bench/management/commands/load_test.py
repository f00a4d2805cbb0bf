"""manage.py load_test: officers search a served portal over HTTP while an admin bulk-enrolls;
throughput, p50/p95 probe to candidates and errors per phase, then the database's accounting
(every submitted search final, billed once if it ran). Run beside `make run`, on its database."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from agencies.audit.bypass import PlatformCommand
from search.bench.load import Run, accounting, bulk_archive, bulk_enroll, phase_figures, run_phases
from search.bench.load_agency import load_agency_ensure, people_with_photos
from search.lfw import default_lfw


class Command(PlatformCommand):
    help = "Load a served portal with concurrent officers' searches (and a bulk enrollment)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--officers", type=int, default=20)
        parser.add_argument("--warmup", type=float, default=10,
                            help="Seconds of searches first, reported apart (workers warm up)")
        parser.add_argument("--duration", type=float, default=60, help="Seconds of the idle phase")
        parser.add_argument("--enroll-during", type=int, default=0, metavar="PHOTOS",
                            help="Then bulk-enroll this many photos while the officers search")
        parser.add_argument("--people", type=int, default=50, help="People in the searched gallery")
        parser.add_argument("--think", type=float, default=2.0,
                            help="Seconds an officer spends on the results before the next search")
        parser.add_argument("--poll", type=float, default=0.25,
                            help="Seconds between an officer's looks at the search list (the page: 0.8)")
        parser.add_argument("--images", type=Path, default=default_lfw())
        parser.add_argument("--search-timeout", type=float, default=120)
        parser.add_argument("--enroll-timeout", type=float, default=3600)

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "CASEBOUND_DEMO_ENABLED", False):
            raise CommandError("The load test creates an agency of its own: development only.")
        root, officers = options["images"], options["officers"]
        people = people_with_photos(root, options["people"])
        if not people or officers < 1:
            raise CommandError(f"Need at least one officer and LFW people with 2+ photos in {root}.")
        self.stdout.write(f"Setting up {officers} officers and {len(people)} enrolled people...")
        agency = load_agency_ensure(officers=officers, people=people, root=root)
        run = Run(base_url=options["base_url"].rstrip("/"), think_seconds=options["think"],
                  search_timeout=options["search_timeout"], poll_seconds=options["poll"],
                  probes=[(p[-1].name, p[-1].read_bytes()) for p in people])
        enroll = None
        if options["enroll_during"]:
            photos = [p for ps in people_with_photos(root, 10**6, skip=len(people)) for p in ps]
            photos = photos[: options["enroll_during"]]
            archive = bulk_archive(photos, root)
            enroll = functools.partial(bulk_enroll, run.base_url, agency.admin_token,
                                       agency.bulk_gallery_id, archive, len(photos),
                                       options["enroll_timeout"])
        self.stdout.write(f"Running against {run.base_url}...")
        walls, enrollment = run_phases(run, agency.officers, options["warmup"],
                                        options["duration"], enroll)
        self._report(run, walls, enrollment, officers)

    def _report(self, run: Run, walls: dict[str, float], enrollment: Any, officers: int) -> None:
        phases = {name: phase_figures([s for s in run.samples if s.phase == name], wall)
                  for name, wall in walls.items()}
        ids = [s.search_id for s in run.samples if s.search_id is not None]
        books = accounting(ids, drain_seconds=run.search_timeout)
        report: dict[str, Any] = {
            "officers": officers, "think_s": run.think_seconds, "poll_s": run.poll_seconds, "phases": phases,
            "errors": sum(phase["errors"] for phase in phases.values()),
            "error_kinds": sorted({s.error for s in run.samples if s.error}),
            "throttled": run.throttled, **books, "lost": len(books["lost"]), "lost_ids": books["lost"]}
        if "enrolling" in phases:
            report["enrollment"] = {"photos": enrollment.photos, "seconds": round(enrollment.seconds, 1),
                                    "counts": enrollment.counts, "error": enrollment.error}
            report["errors"] += bool(enrollment.error)
            idle, busy = phases.get("idle", {}).get("p95_s"), phases["enrolling"]["p95_s"]
            report["p95_ratio_enrolling_to_idle"] = round(busy / idle, 2) if idle and busy else None
        self._print(phases, books, run.throttled)
        self.stdout.write(json.dumps({"load_test": report, "at": time.strftime("%Y-%m-%dT%H:%M:%S")}))

    def _print(self, phases: dict[str, Any], books: dict[str, Any], throttled: int) -> None:
        for name, figures in phases.items():
            self.stdout.write(f"{name}: {figures['completed']} searches in {figures['seconds']} s, "
                              f"{figures['throughput_per_s']}/s, p50 {figures['p50_s']} s, "
                              f"p95 {figures['p95_s']} s, errors {figures['errors']}")
        self.stdout.write(f"submitted {books['submitted']}, finished {books['finished']}, lost "
                          f"{len(books['lost'])}, billing mismatches {len(books['billing_mismatches'])}, "
                          f"throttled {throttled}, served by {books['worker_processes']} "
                          f"worker processes")

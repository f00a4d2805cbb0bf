"""manage.py benchmark_reembed: issue #16's goal measured. An agency of --faces real LFW faces
(bulk-enrolled over the API once, then kept) moves to the other shipped recipe on the bulk worker
while --officers search it over HTTP; it prints the job's faces/s and duration, the searches'
p50/p95 idle, during the job and during the rebuild after the switch, the rebuild's time, and
holds every finished search to one recipe (docs/benchmarks.md, "Re-embedding under load").
Run beside `make run`, on its database, like load_test."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from agencies.audit.bypass import PlatformCommand
from portal.errors import ServiceError
from search.bench import reembed_load as bench
from search.bench.load import Run, accounting, phase_figures
from search.lfw import default_lfw
from search.models import ReembedStatus, Search, SearchStatus


class Command(PlatformCommand):
    help = ("Re-embed a benchmark agency of N real faces while officers search it over HTTP; "
            "faces/s, search latency before/during, and no search mixing recipes.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")
        parser.add_argument("--faces", type=int, default=10_000,
                            help="Faces in the benchmark agency (reembed-N, filled once, then reused)")
        parser.add_argument("--officers", type=int, default=10)
        parser.add_argument("--probes", type=int, default=30,
                            help="People whose last photo is held out as a probe")
        parser.add_argument("--images", type=Path, default=default_lfw())
        parser.add_argument("--duration", type=float, default=60, help="Seconds of the idle phase")
        parser.add_argument("--after", type=float, default=15,
                            help="Seconds of searches after the rebuild that follows the switch")
        parser.add_argument("--think", type=float, default=2.0)
        parser.add_argument("--poll", type=float, default=0.25)
        parser.add_argument("--chunk", type=int, default=2000, help="Photos per uploaded ZIP")
        parser.add_argument("--search-timeout", type=float, default=120)
        parser.add_argument("--timeout", type=float, default=7200,
                            help="Seconds each of the fill, the job and the rebuild may take")

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "CASEBOUND_DEMO_ENABLED", False):
            raise CommandError("The benchmark creates an agency of its own: development only.")
        root, faces, url = options["images"], options["faces"], options["base_url"].rstrip("/")
        if faces < 1 or options["officers"] < 1 or not root.is_dir():
            raise CommandError(f"Need --faces and --officers of at least 1 and a folder of LFW "
                               f"people (Name/photo.jpg); {root} is not one.")
        held_out, plan = bench.photo_plan(root, options["probes"])
        self.stdout.write(f"Setting up reembed-{faces} with {options['officers']} officers...")
        agency = bench.bench_agency_ensure(faces=faces, officers=options["officers"])
        fill = bench.gallery_fill(agency, plan, root, faces=faces, base_url=url,
                                  chunk=options["chunk"], timeout=options["timeout"],
                                  say=self.stdout.write)
        if fill.faces_after < faces:
            raise CommandError(f"The agency holds {fill.faces_after} faces, not {faces}: {fill.error}")
        old = bench.search_ready(agency.agency)
        new = bench.other_recipe(old)
        old_vectors, people = bench.vectors_of(agency.agency, old), bench.people_of(agency.agency)
        known = bench.known_probes(held_out, old, old_vectors, people)
        if not known:
            raise CommandError(f"None of the {len(held_out)} held-out photos finds its own person "
                               "first; give more --probes.")
        run = Run(base_url=url, think_seconds=options["think"], search_timeout=options["search_timeout"],
                  poll_seconds=options["poll"], probes=[(p.name, p.read_bytes()) for p in known])
        self.stdout.write(f"{faces} faces on {old}; {len(known)} known probes; moving to {new} "
                          f"while officers search {url}...")
        try:
            timeline = bench.run_phases(
                run, agency.officers, idle_seconds=options["duration"], after_seconds=options["after"],
                start=lambda: bench.job_start(agency.agency, new), faces=faces,
                timeout=options["timeout"])
        except ServiceError as refused:
            raise CommandError(f"The job was refused: {refused.message}") from None
        self._report(run, timeline, fill, old_vectors, {p.name: p.parent.name for p in known},
                     faces=faces, officers=options["officers"], old=old)

    def _report(self, run: Run, timeline: bench.Timeline, fill: bench.Fill,
                old_vectors: bench.Vectors, persons: dict[str, str], *, faces: int,
                officers: int, old: str) -> None:
        assert timeline.outcome is not None
        job = timeline.outcome.job
        switched = job.finished_at if job.status == ReembedStatus.DONE else None
        vectors = {old: old_vectors} | ({job.to_recipe: bench.vectors_of(job.agency, job.to_recipe)}
                                        if switched else {})
        ids = [s.search_id for s in run.samples if s.search_id is not None]
        books = accounting(ids, drain_seconds=run.search_timeout)
        phases = {name: phase_figures([s for s in run.samples if s.phase == name], wall)
                  for name, wall in timeline.walls.items()}
        idle, busy = phases["idle"]["p95_s"], phases["reembedding"]["p95_s"]
        report: dict[str, Any] = {
            "faces": faces, "officers": officers, "think_s": run.think_seconds,
            "poll_s": run.poll_seconds, "probes": len(persons), "fill": fill.figures(),
            "reembed": bench.job_figures(timeline.outcome), "phases": phases,
            "p95_ratio_reembedding_to_idle": round(busy / idle, 2) if idle and busy else None,
            "recipes": bench.recipes_checked(ids, vectors, switched, old).figures(),
            "candidates": bench.candidates_checked(
                {s.search_id: persons[s.probe] for s in run.samples if s.search_id is not None}),
            "errors": sum(phase["errors"] for phase in phases.values()),
            "error_kinds": sorted({s.error for s in run.samples if s.error}),
            "no_face": Search.objects.filter(pk__in=ids, status=SearchStatus.NO_FACE).count(),
            "throttled": run.throttled, **books, "lost": len(books["lost"]), "lost_ids": books["lost"]}
        self._print(report)
        self.stdout.write(json.dumps({"benchmark_reembed": report,
                                      "at": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        problems = _problems(report)
        if problems:
            raise CommandError("The goal's conditions failed: " + "; ".join(problems))

    def _print(self, report: dict[str, Any]) -> None:
        fill, job = report["fill"], report["reembed"]
        self.stdout.write("fill: " + ("reused the agency's faces" if fill["reused"] else
                          f"{fill['photos_uploaded']} photos -> {fill['faces']} faces in "
                          f"{fill['seconds']} s, {fill['faces_per_s']} faces/s"))
        self.stdout.write(f"re-embedding {job['from']} -> {job['to']}: {job['status']}, "
                          f"{job['faces']} faces in {job['seconds']} s, {job['faces_per_s']} faces/s "
                          f"(queued {job['queued_s']} s); rebuild after the switch "
                          f"{job['rebuild_s']} s, graph {job['graph']}")
        for name, figures in report["phases"].items():
            self.stdout.write(f"{name}: {figures['completed']} searches in {figures['seconds']} s, "
                              f"{figures['throughput_per_s']}/s, p50 {figures['p50_s']} s, "
                              f"p95 {figures['p95_s']} s, max {figures['max_s']} s, "
                              f"errors {figures['errors']}")
        recipes, candidates = report["recipes"], report["candidates"]
        self.stdout.write(f"recipes: {recipes['searches']} searches, {recipes['candidates']} "
                          f"candidates recomputed ({recipes['discriminating']} would show a mix), "
                          f"mixed {len(recipes['mixed'])}, out of order {len(recipes['out_of_order'])}")
        self.stdout.write(f"candidates: {candidates['right']}/{candidates['checked']} list the "
                          f"probe's person ({candidates['rank1']} at rank 1); submitted "
                          f"{report['submitted']}, lost {report['lost']}, errors {report['errors']}, "
                          f"billing mismatches {len(report['billing_mismatches'])}")


def _problems(report: dict[str, Any]) -> list[str]:
    """What breaks the goal's conditions (searches answered, none lost, none mixing recipes)."""
    recipes, job = report["recipes"], report["reembed"]
    checks = [
        (job["status"] != "done", f"the job ended {job['status']}: {job['error']}"),
        (job["rebuild_s"] is None, "the rebuild after the switch did not finish"),
        (bool(recipes["mixed"]), f"searches {recipes['mixed']} mixed recipes"),
        (bool(recipes["out_of_order"]), f"searches {recipes['out_of_order']} ran on a recipe "
                                        "the agency was not on when they stored"),
        (bool(report["candidates"]["wrong"]), f"searches {report['candidates']['wrong']} miss "
                                              "their probe's person"),
        (report["errors"] > 0, f"{report['errors']} searches failed: {report['error_kinds']}"),
        (report["lost"] > 0, f"searches {report['lost_ids']} were lost"),
        (bool(report["billing_mismatches"]), f"searches {report['billing_mismatches']} billed wrongly"),
        (report["no_face"] > 0, f"{report['no_face']} searches of known probes found no face"),
    ]
    return [message for failed, message in checks if failed]

"""manage.py reembed --agency SLUG --recipe NAME: move an agency's faces to another recipe."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import numpy as np
from django.core.management.base import CommandError, CommandParser
from django.db import connection, transaction

from agencies.audit.bypass import PlatformCommand
from agencies.tenancy.models import Agency
from agencies.tenancy.permissions import SYSTEM
from agencies.tenancy.row_security import agency_rows
from portal.errors import ServiceError
from portal.recipes import recipe_get
from search import selectors
from search.models import ACTIVE_REEMBED, ReembedJob
from search.services.reembed import recipe_held, recipe_of, reembed_run, reembed_start


class Command(PlatformCommand):
    help = ("Re-embed every face of an agency under a registered recipe, then switch the agency "
            "to it; searches keep running on the old recipe meanwhile. Re-running resumes.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agency", required=True, help="The agency's slug")
        parser.add_argument("--recipe", required=True, help="A registered recipe's name")
        parser.add_argument("--queue", action="store_true",
                            help="Hand the job to the bulk worker instead of running it here")
        parser.add_argument("--benchmark", action="store_true",
                            help="Print faces/s and the p95 of vector queries run meanwhile")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = Agency.objects.filter(slug=options["agency"]).first()
        if agency is None:
            raise CommandError(f"No agency has the slug {options['agency']!r}.")
        job = self._job(agency, options["recipe"], queue=options["queue"])
        if options["queue"]:
            self.stdout.write(f"job {job.pk} queued: {job.from_recipe} -> {job.to_recipe}, "
                              f"{job.total} faces")
            return
        probe = _Searches(agency) if options["benchmark"] else None
        started = time.perf_counter()
        with agency_rows(agency.pk):
            reembed_run(job_id=job.pk, on_batch=lambda j: self.stdout.write(
                f"  {j.done}/{j.total} faces"))
        seconds = time.perf_counter() - started
        job.refresh_from_db()
        if probe:
            probe.stop()
        self._report(job, seconds, probe)

    def _job(self, agency: Agency, recipe: str, *, queue: bool) -> ReembedJob:
        active = ReembedJob.objects.filter(agency=agency, status__in=ACTIVE_REEMBED).first()
        if active is not None and active.to_recipe == recipe and not queue:
            self.stdout.write(f"resuming job {active.pk} ({active.done}/{active.total} done)")
            return active
        try:
            return reembed_start(agency=agency, recipe_name=recipe, actor=SYSTEM, enqueue=queue)
        except ServiceError as exc:
            raise CommandError(exc.message) from None

    def _report(self, job: ReembedJob, seconds: float, probe: _Searches | None) -> None:
        if job.status != "done":
            raise CommandError(f"job {job.pk} {job.status}: {job.error}")
        self.stdout.write(f"job {job.pk} done: {job.total} faces now under {job.to_recipe} "
                          f"(agency recipe {recipe_of(job.agency_id)}) in {seconds:.1f} s, "
                          f"{job.total / max(seconds, 1e-9):.1f} faces/s")
        if probe and probe.latencies:
            p95 = statistics.quantiles(probe.latencies, n=20)[-1] if len(probe.latencies) > 1 \
                else probe.latencies[0]
            self.stdout.write(f"searches meanwhile: {len(probe.latencies)} answered, "
                              f"{len(probe.empty)} found nothing, query p95 {p95 * 1000:.0f} ms")


class _Searches(threading.Thread):
    """Vector queries against the agency's live recipe, over and over, while the job runs."""

    def __init__(self, agency: Agency) -> None:
        super().__init__(daemon=True)
        self.agency, self.latencies, self.empty = agency, [], []  # type: ignore[var-annotated]
        self.running = True
        self.start()

    def run(self) -> None:
        try:
            self._measure()
        finally:
            connection.close()

    def _measure(self) -> None:
        with agency_rows(self.agency.pk):
            while self.running:
                started = time.perf_counter()
                with transaction.atomic():  # as a search stores: the recipe held until the end
                    recipe = recipe_get(recipe_held(self.agency.pk))
                    query = np.random.default_rng(0).normal(size=recipe.dimensions)  # its width
                    found = selectors.nearest_faces(agency=self.agency, embedding=query,
                                                    model_name=recipe.name, limit=10)
                self.latencies.append(time.perf_counter() - started)
                if not found:
                    self.empty.append(len(self.latencies))
                time.sleep(0.05)

    def stop(self) -> None:
        self.running = False
        self.join()

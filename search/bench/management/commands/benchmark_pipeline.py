"""manage.py benchmark_pipeline: a probe photo to stored candidates, per stage, and enrollment
throughput with every core. Runs in a transaction that is rolled back; its files are removed."""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser
from django.db import transaction

from agencies.audit.bypass import PlatformCommand
from agencies.billing.models import License, Plan
from agencies.tenancy.models import Agency
from agencies.tenancy.permissions import SYSTEM
from search.bench.evaluation import embed_all
from search.lfw import default_lfw
from search.models import Case, CaseStatus, Face, Gallery, LegalBasis, OffenceCategory, Search
from search.services import searching
from search.services.bulk import folder_enroll

STAGES = ("decode", "detect", "align", "embed", "query", "store")


class _Rollback(Exception):
    pass


class Command(PlatformCommand):
    help = "Per-stage timings of the search pipeline on real photos, and enrollment faces/s."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--images", type=Path, default=default_lfw())
        parser.add_argument("--people", type=int, default=60, help="People enrolled (first photo)")
        parser.add_argument("--probes", type=int, default=60, help="Probe photos searched")
        parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)

    def handle(self, *args: Any, **options: Any) -> None:
        people = sorted(p for p in options["images"].iterdir()
                        if p.is_dir() and len(list(p.glob("*.jpg"))) >= 2)[: options["people"]]
        enrolled = [sorted(p.glob("*.jpg"))[0] for p in people]
        probes = [sorted(p.glob("*.jpg"))[1] for p in people][: options["probes"]]
        started = time.perf_counter()
        embed_all(enrolled, options["processes"], gallery=len(enrolled))
        faces_per_second = len(enrolled) / (time.perf_counter() - started)
        stages, totals, stored_per_second = self._searches(options["images"], enrolled, probes)
        report = {"photos_enrolled": len(enrolled), "probes": len(probes),
                  "processes": options["processes"],
                  "enrollment_faces_per_second": round(faces_per_second, 2),
                  # the whole enrollment service (duplicate check, crop file, row) on one core
                  "enrollment_stored_faces_per_second_1_process": round(stored_per_second, 2),
                  "probe_to_candidates_p50_s": round(statistics.median(totals), 3),
                  "probe_to_candidates_p95_s": round(sorted(totals)[int(0.95 * (len(totals) - 1))], 3),
                  **{f"{stage}_ms_p50": round(statistics.median(stages[stage]) * 1000, 1)
                     for stage in STAGES}}
        for key, value in report.items():
            self.stdout.write(f"{key:>30}: {value}")
        self.stdout.write(json.dumps(report))

    def _searches(self, root: Path, enrolled: list[Path],
                  probes: list[Path]) -> tuple[dict[str, list[float]], list[float], float]:
        stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
        totals: list[float] = []
        files: list[Any] = []
        try:
            with transaction.atomic():
                agency, case = _scratch_agency()
                gallery = Gallery.objects.create(agency=agency, name="bench", source="LFW",
                                                 legal_basis=LegalBasis.OTHER_STATUTE)
                begun = time.perf_counter()
                folder_enroll(actor=SYSTEM, gallery=gallery, root=root, files=enrolled)
                stored_per_second = len(enrolled) / (time.perf_counter() - begun)
                for probe in probes:
                    begun = time.perf_counter()
                    search = searching.search_create(case=case, user=case.opened_by,
                                                     probe=probe.read_bytes())
                    searching.search_run(search_id=search.pk)
                    totals.append(time.perf_counter() - begun)
                    search.refresh_from_db()
                    for stage in STAGES:
                        stages[stage].append(search.timings.get(stage, 0.0))
                files = [f.image for f in Face.objects.filter(agency=agency)]
                files += [f for s in Search.objects.filter(agency=agency) for f in (s.probe, s.probe_face)]
                raise _Rollback
        except _Rollback:
            pass
        for file in files:
            if file:
                file.storage.delete(file.name)
        return stages, totals, stored_per_second


def _scratch_agency() -> tuple[Agency, Case]:
    from datetime import date, timedelta

    from django.contrib.auth import get_user_model
    from guardian.shortcuts import assign_perm

    from agencies.tenancy.models import Membership, Role

    agency = Agency.objects.create(name="Pipeline benchmark", slug="bench-pipeline")
    plan = Plan.objects.create(name="bench-pipeline", seats=1, monthly_search_quota=10**6,
                               annual_fee_per_seat=0)
    License.objects.create(agency=agency, plan=plan, starts_on=date.today() - timedelta(days=1),
                           ends_on=date.today() + timedelta(days=1))
    officer = get_user_model().objects.create(username="bench-pipeline-officer")
    Membership.objects.create(user=officer, agency=agency, role=Role.OFFICER,
                              training_valid_until=date.today())  # searches check the account
    case = Case.objects.create(agency=agency, case_number="BENCH-1", status=CaseStatus.APPROVED,
                               offence_category=OffenceCategory.ROBBERY, opened_by=officer)
    assign_perm("search.search_in_case", officer, case)
    return agency, case

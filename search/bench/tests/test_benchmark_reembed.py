"""manage.py benchmark_reembed at a tiny scale against the served portal and the suite's real
workers (bulk enrollment and the job on the bulk worker): its report, and checks that can fail."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command

from agencies.tenancy.models import Agency
from search.bench import reembed_load as bench
from search.lfw import FIXTURE_LFW
from search.models import Candidate, Face, ReembedJob, Search, SearchStatus
from tests.test_api_live import served_portal  # noqa: F401 - the fixture, as that test serves it

pytestmark = [pytest.mark.live, pytest.mark.worker, pytest.mark.django_db(transaction=True)]
FACES = 20


def _benchmark(url: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("benchmark_reembed", "--base-url", url, "--images", str(FIXTURE_LFW),
                 "--faces", str(FACES), "--officers", "2", "--probes", "5", "--duration", "4",
                 "--after", "4", "--think", "0.2", "--chunk", "12", stdout=out)
    return json.loads(out.getvalue().splitlines()[-1])["benchmark_reembed"]


def test_an_agency_moves_while_officers_search_and_no_search_mixes_recipes(served_portal) -> None:  # noqa: F811
    first = _benchmark(served_portal)

    agency = Agency.objects.get(slug=f"reembed-{FACES}")
    assert first["fill"]["reused"] is False and first["fill"]["photos_uploaded"] >= FACES
    assert first["fill"]["faces"] == Face.objects.filter(agency=agency).count() == FACES
    job = first["reembed"]
    assert (job["from"], job["to"], job["status"], job["faces"]) == ("Dlib+mirror", "Dlib", "done", FACES)
    assert job["faces_per_s"] > 0 and job["rebuild_s"] is not None
    assert set(first["phases"]) == {"idle", "reembedding", "rebuilding", "after"}
    idle = first["phases"]["idle"]
    assert idle["completed"] >= 1 and 0 < idle["p95_s"] <= idle["max_s"]
    recipes = first["recipes"]
    assert set(recipes["searches"]) == {"Dlib+mirror", "Dlib"}  # searches on both sides of the switch
    assert recipes["mixed"] == [] and recipes["out_of_order"] == []
    assert 0 < recipes["discriminating"] <= recipes["candidates"]  # a mix would have shown
    assert first["candidates"]["checked"] >= 2 and first["candidates"]["wrong"] == []
    assert first["submitted"] == Search.objects.filter(agency=agency).count()
    assert first["lost"] == 0 and first["errors"] == 0 and first["billing_mismatches"] == []

    again = _benchmark(served_portal)  # the same agency, moved back: re-embedding only
    assert again["fill"]["reused"] is True and again["fill"]["photos_uploaded"] == 0
    assert (again["reembed"]["from"], again["reembed"]["to"]) == ("Dlib", "Dlib+mirror")
    assert again["recipes"]["mixed"] == [] and again["lost"] == 0 and again["errors"] == 0
    assert Agency.objects.get(pk=agency.pk).face_recipe == "Dlib+mirror"

    # The checks can fail: a cosine that fits no recipe, and a search stored after the switch
    # under the recipe the agency had left.
    # (Only searches after the last switch: the vectors of an earlier stay on a recipe differ.)
    switched = ReembedJob.objects.filter(agency=agency).latest("finished_at").finished_at
    done_now = list(Search.objects.filter(agency=agency, status=SearchStatus.DONE, finished_at__gt=switched)
                    .order_by("pk").values_list("pk", flat=True))
    vectors = {"Dlib+mirror": bench.vectors_of(agency, "Dlib+mirror")}
    tampered = Candidate.objects.filter(search_id=done_now[-1]).order_by("rank").first()
    assert tampered is not None
    Candidate.objects.filter(pk=tampered.pk).update(similarity=tampered.similarity - 0.05)
    check = bench.recipes_checked(done_now, vectors, switched_at=None, old="Dlib+mirror")
    assert check.mixed == [done_now[-1]]
    earliest = Search.objects.filter(pk__in=done_now).earliest("finished_at").finished_at
    check = bench.recipes_checked(done_now, vectors, switched_at=earliest, old="Dlib+mirror")
    assert len(check.out_of_order) == len(done_now) - 1  # all but the one that finished first

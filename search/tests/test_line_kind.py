"""Which score the line is drawn on: the raw cosine in a gallery smaller than the normalized
table was validated for (the demo's 30 faces), the normalized score from there up; the search,
the API, the page and the disclosure PDF all name the one used."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from pypdf import PdfReader

from search.engine import calibration
from search.engine.pipeline import MODEL_NAME
from search.models import Band, Search
from search.services import searching
from search.services.cohorts import agency_cohorts_refresh
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import api_client, enroll_people, wait_for, web_client

STRANGERS = Path(settings.BASE_DIR) / "fixtures" / "strangers"  # none of them enrolled
DEMO_PEOPLE = 15  # every fixture person, two photos each: the demo's gallery of 30 faces


def _table(kind: str) -> calibration.Calibration:
    return calibration.table_for(settings.CASEBOUND["CALIBRATION_DIR"], MODEL_NAME, kind)


def _demo_gallery(cast: Any) -> list[str]:
    names = enroll_people(GalleryFactory(agency=cast.agency), count=DEMO_PEOPLE)
    agency_cohorts_refresh(agency=cast.agency, model_name=MODEL_NAME)
    return names


def _post(user: Any, case_id: int, data: bytes) -> dict[str, Any]:
    probe = SimpleUploadedFile("probe.jpg", data, content_type="image/jpeg")
    response = api_client(user).post("/api/v1/searches/", {"case": case_id, "probe": probe},
                                     format="multipart")
    assert response.status_code == 202, response.content
    url = f"/api/v1/searches/{response.json()['id']}/"

    def finished() -> dict[str, Any] | None:
        body = api_client(user).get(url).json()
        return body if body["status"] not in ("queued", "running") else None

    return wait_for(finished, timeout=90)


def _above_the_line(body: dict[str, Any], person: str) -> bool:
    return any(c["subject"]["reference"] == person and c["band"] in (Band.STRONG, Band.POSSIBLE)
               for c in body["candidates"])


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_in_the_demos_gallery_true_matches_pass_the_line_and_strangers_do_not(
        cast, celery_worker) -> None:
    names = _demo_gallery(cast)
    assert len(names) == DEMO_PEOPLE
    case = assigned_case(cast.agency, cast.officer)
    line = _table(calibration.SCORE_KIND_COSINE).threshold(0.01, 2 * DEMO_PEOPLE)
    found = []
    for person in names:  # each person's third photo, never enrolled
        body = _post(cast.officer, case.pk, photos.photo(person, 2))
        assert body["status"] == "done", body
        assert (body["score_kind"], body["gallery_size"]) == (calibration.SCORE_KIND_COSINE, 30)
        assert body["threshold"] == pytest.approx(line, abs=1e-4)
        # ordered by the score the line is drawn on
        similarities = [c["similarity"] for c in body["candidates"]]
        assert similarities == sorted(similarities, reverse=True)
        assert all(s >= line - 1e-4 for s in similarities)
        found.append(_above_the_line(body, person))
    # On main, with the line on the normalized score, 1 of 15 passed.
    assert sum(found) >= 13, [n for n, ok in zip(names, found, strict=True) if not ok]
    for stranger in sorted(STRANGERS.glob("*.jpg")):
        body = _post(cast.officer, case.pk, stranger.read_bytes())
        assert body["status"] == "done" and body["score_kind"] == calibration.SCORE_KIND_COSINE
        assert body["candidates"] == [], (stranger.name, body["candidates"])
        assert body["outcome"] == "No candidate above the line"


def _run(case: Any, user: Any, data: bytes) -> Search:
    search = searching.search_create(case=case, user=user, probe=data)
    searching.search_run(search_id=search.pk)
    search.refresh_from_db()
    return search


def _pdf_text(user: Any, search: Search) -> str:
    response = api_client(user).get(f"/api/v1/searches/{search.pk}/disclosure.pdf")
    assert response.status_code == 200
    return " ".join(" ".join(p.extract_text().split())
                    for p in PdfReader(io.BytesIO(response.content)).pages).replace("- ", "-")


def test_each_search_names_the_score_its_line_was_drawn_on(cast) -> None:
    _demo_gallery(cast)
    case = assigned_case(cast.agency, cast.officer)
    small = _run(case, cast.officer, photos.photo("Colin_Powell", 2))
    assert small.score_kind == calibration.SCORE_KIND_COSINE
    assert small.threshold == pytest.approx(
        _table(calibration.SCORE_KIND_COSINE).threshold(0.01, 30), abs=1e-4)
    first = small.candidates.get(rank=1)
    assert first.false_match_estimate == pytest.approx(
        _table(calibration.SCORE_KIND_COSINE).false_match_rate(first.similarity, 30), rel=0.01)
    # The same gallery, with the normalized score allowed from 30 faces up (the setting wins
    # over the table's own min_gallery).
    with override_settings(CASEBOUND={**settings.CASEBOUND, "NORMALIZED_MIN_GALLERY": 30}):
        normalized = _run(case, cast.officer, photos.photo("Colin_Powell", 2))
    assert normalized.score_kind == calibration.SCORE_KIND_NORMALIZED
    assert normalized.threshold == pytest.approx(
        _table(calibration.SCORE_KIND_NORMALIZED).threshold(0.01, 30), abs=1e-4)
    scores = [c.score for c in normalized.candidates.order_by("rank")]
    assert scores == sorted(scores, reverse=True)

    for search, said in ((small, f"similarity {small.threshold:.3f} or more"),
                         (normalized, f"normalized score {normalized.threshold:.2f} or more")):
        body = api_client(cast.officer).get(f"/api/v1/searches/{search.pk}/").json()
        assert body["score_kind"] == search.score_kind
        page = web_client(cast.officer).get(f"/searches/{search.pk}/").content.decode()
        assert said in page
        assert said in _pdf_text(cast.officer, search)
    assert "normalized score" not in f"{small.line_text}"


def test_a_search_run_before_there_were_two_kinds_reads_as_normalized(cast, search) -> None:
    Search.objects.filter(pk=search.pk).update(score_kind="", threshold=3.57,
                                               target_false_match_rate=0.01, gallery_size=4)
    search.refresh_from_db()
    assert search.line_text == "normalized score 3.57 or more"
    assert api_client(cast.officer).get(f"/api/v1/searches/{search.pk}/").json()["score_kind"] == ""


def test_the_cosine_table_is_needed_too(cast, tmp_path: Path) -> None:
    # Only the normalized table: a small gallery could not draw its line, so the search fails
    # with the reason before any candidate is stored, and the re-embedding and readyz refuse.
    normalized = calibration.table_path(settings.CASEBOUND["CALIBRATION_DIR"], MODEL_NAME)
    (tmp_path / normalized.name).write_bytes(normalized.read_bytes())
    enroll_people(GalleryFactory(agency=cast.agency), count=1)
    case = assigned_case(cast.agency, cast.officer)
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Ariel_Sharon", 2))
    with override_settings(CASEBOUND={**settings.CASEBOUND, "CALIBRATION_DIR": tmp_path}):
        calibration.table_for.cache_clear()
        searching.search_execute(search_id=search.pk)
        ready = api_client(cast.officer).get("/readyz")
        with pytest.raises(SystemCheckError, match="casebound.E002"):
            call_command("check")
    search.refresh_from_db()
    assert (search.status, search.error_code) == ("failed", "calibration_missing")
    assert not search.candidates.exists()
    assert ready.status_code == 503 and ready.json()["checks"]["calibration"]["ok"] is False

"""The disclosure report lists the case, the probe, every candidate, every decision and the policy."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from agencies.audit.models import AuditAction, AuditEvent
from search.models import Search
from search.services import searching
from search.services.reviews import candidate_review
from tests import photos
from tests.factories import assigned_case
from tests.fixtures import ARTIFACTS, api_client


@pytest.fixture
def reviewed_search(cast, galleries) -> Search:
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0777",
                         justification="Armed robbery, CCTV", decided_by=cast.supervisor)
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Colin_Powell", 2))
    searching.search_run(search_id=search.pk)  # the service itself, in this process
    first = search.candidates.get(rank=1)
    candidate_review(candidate=first, reviewer=cast.officer, decision="possible_lead")
    candidate_review(candidate=first, reviewer=cast.supervisor, decision="possible_lead")
    return search


def _text(pdf: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_report_says_everything_a_prosecutor_needs(cast, reviewed_search) -> None:
    response = api_client(cast.officer).get(f"/api/v1/searches/{reviewed_search.pk}/disclosure.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "disclosure.pdf").write_bytes(response.content)
    text = _text(response.content)
    assert "2026-0777" in text and "Armed robbery, CCTV" in text
    assert "not an identification" in text
    assert "Colin_Powell" in text
    assert "Possible lead by alice" in text and "Possible lead by bob" in text
    assert "target false-match rate 1%;" in text  # the policy in force
    reviewed_search.refresh_from_db()
    assert (f"target false-match rate 1% in a gallery of {reviewed_search.gallery_size} faces"
            in " ".join(text.split()))
    assert "about 1 in" in text
    # The line named as the score it was drawn on: the cosine, in a gallery of 10 faces.
    assert reviewed_search.score_kind == "cosine_similarity"
    assert f"similarity {reviewed_search.threshold:.3f} or more" in " ".join(text.split())
    shown = reviewed_search.candidates.count()
    assert " ".join(text.split()).count("similarity 0.") >= shown + 1 and shown >= 1
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, object_id=str(reviewed_search.pk)).exists()


def test_another_agency_gets_no_report(cast, reviewed_search) -> None:
    url = f"/api/v1/searches/{reviewed_search.pk}/disclosure.pdf"
    assert api_client(cast.other_officer).get(url).status_code == 404

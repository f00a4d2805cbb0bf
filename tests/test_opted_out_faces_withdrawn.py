"""A face soft-removed by an approved opt-out vanishes from every path during its grace period: the
result, the disclosure PDF and the reviews, not only searches, lists and the image URL."""

from __future__ import annotations

from django.utils import timezone

from search.models import Face, Search
from tests.fixtures import api_client


def _pdf(user, search: Search) -> bytes:
    response = api_client(user).get(f"/api/v1/searches/{search.pk}/disclosure.pdf")
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_face_removed_by_an_opt_out_is_gone_from_results_pdf_and_reviews(cast, search) -> None:
    images_before = _pdf(cast.officer, search).count(b"/Subtype /Image")
    top = search.candidates.get(rank=1)
    # What search.services.privacy._apply_answer does when the agency confirms (or lets it lapse).
    Face.all_objects.filter(pk=top.face_id).update(removed_at=timezone.now())

    shown = api_client(cast.officer).get(f"/api/v1/searches/{search.pk}/").json()["candidates"][0]
    assert shown["face"] is None and shown["subject"] is None, shown
    assert _pdf(cast.officer, search).count(b"/Subtype /Image") == images_before - 1
    review = api_client(cast.officer).post(f"/api/v1/searches/{search.pk}/candidates/1/review/",
                                           {"decision": "possible_lead"}, format="json")
    assert review.status_code == 409, review.json()

"""POST /api/v1/searches/ and GET /api/v1/searches/{id}/: refusals in the request, and the
whole pipeline on a real Celery worker against the real broker and database."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from search.models import CaseStatus, Face, Search
from tests import photos
from tests.factories import CaseFactory, GalleryFactory, assigned_case
from tests.fixtures import api_client, enroll_people, wait_for


def _post_search(user: Any, case_id: int, data: bytes) -> Any:
    probe = SimpleUploadedFile("probe.jpg", data, content_type="image/jpeg")
    return api_client(user).post("/api/v1/searches/", {"case": case_id, "probe": probe},
                                 format="multipart")


def _finished(user: Any, search_id: int) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = api_client(user).get(f"/api/v1/searches/{search_id}/").json()
        return body if body["status"] not in ("queued", "running") else None

    return wait_for(check, timeout=90)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_probe_finds_the_right_person_first(cast, galleries, celery_worker) -> None:
    case = assigned_case(cast.agency, cast.officer)
    response = _post_search(cast.officer, case.pk, photos.photo("Colin_Powell", 2))
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    body = _finished(cast.officer, response.json()["id"])
    assert body["status"] == "done", body
    assert body["faces_found"] == 1
    first = body["candidates"][0]
    assert first["rank"] == 1
    assert first["subject"]["reference"] == "Colin_Powell"
    assert first["similarity"] > 0.9
    assert [c["rank"] for c in body["candidates"]] == list(range(1, len(body["candidates"]) + 1))
    mine = set(Face.objects.filter(agency=cast.agency).values_list("pk", flat=True))
    assert {c["face"]["id"] for c in body["candidates"]} <= mine
    assert {c["gallery"]["id"] for c in body["candidates"]} == {galleries[0].pk}
    assert "not an identification" in body["notice"] or "never an identification" in body["notice"]
    search = Search.objects.get(pk=body["id"])
    assert set(search.timings) >= {"decode", "detect", "align", "embed", "query", "store"}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_probe_without_a_face_ends_as_no_face(cast, galleries, celery_worker) -> None:
    case = assigned_case(cast.agency, cast.officer)
    search_id = _post_search(cast.officer, case.pk, photos.blank_photo()).json()["id"]
    body = _finished(cast.officer, search_id)
    assert body["status"] == "no_face"
    assert body["faces_found"] == 0
    assert body["candidates"] == []
    assert "No face" in body["error"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_stranger_gives_no_candidate_above_threshold(cast, celery_worker) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    enroll_people(gallery, count=3)  # the first three fixture people; Vladimir Putin is not one
    case = assigned_case(cast.agency, cast.officer)
    search_id = _post_search(cast.officer, case.pk, photos.photo("Vladimir_Putin", 2)).json()["id"]
    body = _finished(cast.officer, search_id)
    assert body["status"] == "done"
    assert body["candidates"] == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_search_with_two_faces_says_so(cast, galleries, celery_worker) -> None:
    case = assigned_case(cast.agency, cast.officer)
    probe = photos.two_faces("Colin_Powell", "Serena_Williams")
    body = _finished(cast.officer, _post_search(cast.officer, case.pk, probe).json()["id"])
    assert body["faces_found"] == 2
    assert body["candidates"][0]["subject"]["reference"] == "Colin_Powell"


def test_a_non_image_probe_is_refused_before_queueing(cast) -> None:
    case = assigned_case(cast.agency, cast.officer)
    response = _post_search(cast.officer, case.pk, b"GIF89a broken")
    assert response.status_code == 400
    assert response.json()["code"] == "not_an_image"
    assert not Search.objects.exists()


def test_another_agencys_case_answers_404(cast) -> None:
    theirs = assigned_case(cast.other_agency, cast.other_officer)
    response = _post_search(cast.officer, theirs.pk, photos.photo("Colin_Powell", 2))
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}
    assert not Search.objects.exists()


def test_another_agencys_search_answers_404(cast) -> None:
    theirs = assigned_case(cast.other_agency, cast.other_officer)
    search = Search.objects.create(agency=cast.other_agency, case=theirs,
                                   requested_by=cast.other_officer, probe="probes/x.jpg")
    assert api_client(cast.officer).get(f"/api/v1/searches/{search.pk}/").status_code == 404
    assert api_client(cast.officer).get("/api/v1/searches/").json()["results"] == []


def test_a_case_awaiting_approval_refuses_searches(cast) -> None:
    case = assigned_case(cast.agency, cast.officer, status=CaseStatus.PENDING)
    response = _post_search(cast.officer, case.pk, photos.photo("Colin_Powell", 2))
    assert response.status_code == 409
    assert response.json()["code"] == "case_not_approved"
    assert not Search.objects.exists()


def test_an_officer_not_assigned_to_the_case_is_refused(cast) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.supervisor)
    response = _post_search(cast.officer, case.pk, photos.photo("Colin_Powell", 2))
    assert response.status_code == 403
    assert response.json()["code"] == "not_assigned"


def test_an_anonymous_client_is_refused(cast) -> None:
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/searches/").status_code == 401

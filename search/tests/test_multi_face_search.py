"""Probes with several faces, and a search's stages: through the real worker, the API and the
search page. Every face found is stored, largest first; the largest is searched unless another is
asked for; another face of the same photo is a new search, checked, audited and billed."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from agencies.audit.models import AuditAction, AuditEvent
from agencies.billing.models import UsageEvent
from search.models import Search
from search.tests.test_disclosure import _text
from tests import photos
from tests.factories import assigned_case
from tests.fixtures import api_client, wait_for, web_client

BIG, SMALL = "Colin_Powell", "Donald_Rumsfeld"  # both enrolled by the `galleries` fixture


def _group_photo() -> bytes:
    """Held-out photos of two enrolled people in one frame, BIG's face twice SMALL's size."""
    big = Image.open(photos.photo_path(BIG, 2)).resize((500, 500))
    small = Image.open(photos.photo_path(SMALL, 2))
    canvas = Image.new("RGB", (800, 500), "white")
    canvas.paste(small, (0, 125))  # the smaller face on the left: numbers follow size, not place
    canvas.paste(big, (300, 0))
    return photos.encode(canvas)


def _post(user: Any, case_id: int, data: bytes, **extra: Any) -> Any:
    probe = SimpleUploadedFile("probe.jpg", data, content_type="image/jpeg")
    return api_client(user).post("/api/v1/searches/", {"case": case_id, "probe": probe, **extra},
                                 format="multipart")


def _finished(user: Any, search_id: int, seen: list[str] | None = None) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body = api_client(user).get(f"/api/v1/searches/{search_id}/").json()
        if seen is not None and (not seen or seen[-1] != body["stage"]):
            seen.append(body["stage"])
        return body if body["status"] not in ("queued", "running") else None

    return wait_for(check, timeout=120, interval=0.05)


def _searched(body: dict[str, Any]) -> str:
    return body["candidates"][0]["subject"]["reference"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_every_face_is_stored_and_another_can_be_searched(cast, galleries, celery_worker) -> None:
    case = assigned_case(cast.agency, cast.officer)
    stages: list[str] = []
    response = _post(cast.officer, case.pk, _group_photo())
    assert response.status_code == 202, response.content
    assert response.json()["stage"] == "queued"
    first = _finished(cast.officer, response.json()["id"], stages)
    assert first["status"] == "done" and first["stage"] == "done", first
    assert stages == sorted(stages, key=["queued", "finding_faces", "embedding", "searching",
                                         "done"].index)  # never backwards
    faces = first["faces"]
    assert first["faces_found"] == len(faces) == 2
    assert faces[0]["width"] > faces[1]["width"] and faces[0]["x"] > faces[1]["x"]
    assert first["face_index"] == 0 and _searched(first) == BIG
    metered = UsageEvent.objects.filter(agency=cast.agency).count()

    again = api_client(cast.officer).post(f"/api/v1/searches/{first['id']}/another-face/",
                                          {"face_index": 1}, format="json")
    assert again.status_code == 202, again.content
    second = _finished(cast.officer, again.json()["id"])
    assert second["status"] == "done" and second["face_index"] == 1
    assert second["case"] == first["case"] and second["faces"] == faces
    assert _searched(second) == SMALL
    assert UsageEvent.objects.filter(agency=cast.agency).count() == metered + 1  # billed
    event = AuditEvent.objects.get(action=AuditAction.SEARCH_RUN, object_id=str(second["id"]))
    assert event.details["face_index"] == 1 and event.details["probe_of_search"] == first["id"]
    report = api_client(cast.officer).get(f"/api/v1/searches/{second['id']}/disclosure.pdf")
    assert "face 2 (largest first) searched" in " ".join(_text(report.content).split())


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_face_index_beyond_the_faces_found_fails_clearly(cast, galleries, celery_worker) -> None:
    case = assigned_case(cast.agency, cast.officer)
    metered = UsageEvent.objects.filter(agency=cast.agency).count()
    response = _post(cast.officer, case.pk, _group_photo(), face_index=5)
    assert response.status_code == 202, response.content
    body = _finished(cast.officer, response.json()["id"])
    assert body["status"] == "failed" and body["error_code"] == "face_index_out_of_range"
    assert "face_index 0 to 1" in body["error"]
    assert len(body["faces"]) == 2 and body["candidates"] == []
    assert UsageEvent.objects.filter(agency=cast.agency).count() == metered  # nothing searched
    # Asking again, from the finished search, is refused at once: its faces are known.
    refused = api_client(cast.officer).post(f"/api/v1/searches/{body['id']}/another-face/",
                                            {"face_index": 2}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "face_index_out_of_range"
    bad = _post(cast.officer, case.pk, _group_photo(), face_index=-1)
    assert bad.status_code == 400 and "face_index" in bad.json()["errors"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_page_boxes_each_face_and_searches_another(cast, galleries, celery_worker) -> None:
    case = assigned_case(cast.agency, cast.officer)
    first = _finished(cast.officer, _post(cast.officer, case.pk, _group_photo()).json()["id"])
    page = web_client(cast.officer).get(f"/searches/{first['id']}/").content.decode()
    assert page.count('class="face-box') == 2
    assert "Face 1 (largest)" in page and "searched in this search" in page
    assert "Search face 2" in page and f"/images/searches/{first['id']}/probe/" in page
    assert "usa-step-indicator" in page

    answer = web_client(cast.officer).post(f"/searches/{first['id']}/another-face/",
                                           {"face_index": "1"})
    assert answer.status_code == 302
    second = Search.objects.exclude(pk=first["id"]).get(case=case)
    assert answer["Location"] == f"/searches/{second.pk}/" and second.face_index == 1
    assert _searched(_finished(cast.officer, second.pk)) == SMALL


@pytest.mark.django_db
def test_only_the_officers_of_the_case_search_another_face(cast, search) -> None:
    searches = Search.objects.count()
    # The auditor sees the results, and the faces, but searches nothing.
    page = web_client(cast.auditor).get(f"/searches/{search.pk}/").content.decode()
    assert "Search face" not in page
    assert "Faces in the photo" not in page  # one face in this probe: no list of faces to pick
    assert web_client(cast.auditor).post(f"/searches/{search.pk}/another-face/",
                                         {"face_index": "0"}).status_code == 403
    assert api_client(cast.auditor).post(f"/api/v1/searches/{search.pk}/another-face/",
                                         {"face_index": 0}, format="json").status_code == 403
    # Another agency's officer: the search does not exist for them.
    assert api_client(cast.other_officer).post(f"/api/v1/searches/{search.pk}/another-face/",
                                               {"face_index": 0}, format="json").status_code == 404
    # The supervisor is not assigned to this case: refused, and the refusal is audited.
    refused = api_client(cast.supervisor).post(f"/api/v1/searches/{search.pk}/another-face/",
                                               {"face_index": 0}, format="json")
    assert refused.status_code == 403
    assert web_client(cast.officer).post(f"/searches/{search.pk}/another-face/",
                                         {"face_index": "x"}).status_code == 400
    assert Search.objects.count() == searches


@pytest.mark.django_db
def test_a_purged_probe_cannot_be_searched_again(cast, search) -> None:
    Search.objects.filter(pk=search.pk).update(probe="", probe_purged_at=search.created_at)
    answer = api_client(cast.officer).post(f"/api/v1/searches/{search.pk}/another-face/",
                                           {"face_index": 0}, format="json")
    assert answer.status_code == 410 and answer.json()["code"] == "probe_purged"


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_no_face_shows_the_photo_the_stage_and_what_to_try(cast, galleries, celery_worker) -> None:
    case = assigned_case(cast.agency, cast.officer)
    body = _finished(cast.officer, _post(cast.officer, case.pk, photos.blank_photo()).json()["id"])
    assert body["status"] == "no_face" and body["stage"] == "finding_faces"
    assert body["faces"] == [] and body["elapsed_seconds"] >= 0
    page = web_client(cast.officer).get(f"/searches/{body['id']}/").content.decode()
    assert "Stopped while finding faces" in page and "No face found" in page
    assert "What to try next" in page and f"/images/searches/{body['id']}/probe/" in page
    assert "Upload another photo in this case" in page


@pytest.mark.django_db
def test_a_face_number_in_other_digits_is_a_400_not_a_500(cast, search) -> None:
    # "²" and "٣" pass str.isdigit(); int() refuses the first, so only ASCII digits are numbers.
    searches = Search.objects.count()
    for value in ("\u00b2", "\u0663", "1\u00b2"):
        answer = web_client(cast.officer).post(f"/searches/{search.pk}/another-face/",
                                               {"face_index": value})
        assert answer.status_code == 400, (value, answer.status_code)
        assert "Choose one of the faces listed under the photo." in answer.content.decode()
    assert Search.objects.count() == searches

"""Face recipes, kept source photos and the re-embedding job, on real photos and the real model."""

from __future__ import annotations

import contextlib
import io
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from PIL import Image

from agencies.audit.models import AuditAction, AuditEvent
from agencies.tenancy.models import Agency
from agencies.tenancy.permissions import SYSTEM
from portal.errors import ServiceError
from portal.health import weights_check
from portal.recipes import registered
from search import selectors
from search.models import Face, LegalBasis, ReembedJob, ReembedStatus, Search, Suppression
from search.services import reembed, searching
from search.services.enrollment import face_enroll
from search.services.privacy import subject_erase
from search.services.retention import purge_expired
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import enroll_people, wait_for, web_client

NEW = "Dlib"


class Killed(BaseException):
    """What a killed worker amounts to for the job: it stops between two batches, no handler runs."""


def _agency_faces(agency: Agency) -> Any:
    return Face.all_objects.filter(agency=agency)


def _search(cast: Any, person: str, index: int = 2) -> Search:
    case = assigned_case(cast.agency, cast.officer)
    search = searching.search_create(case=case, user=cast.officer, probe=photos.photo(person, index))
    searching.search_run(search_id=search.pk)
    search.refresh_from_db()
    return search


def _top(search: Search) -> str:
    first = search.candidates.select_related("subject").order_by("rank").first()
    return first.subject.reference if first else ""


@pytest.fixture
def north(cast: Any) -> Any:
    """Five people, two photos each, in each agency (the same people: a leak would show)."""
    mine = GalleryFactory(agency=cast.agency, name="North bookings")
    theirs = GalleryFactory(agency=cast.other_agency, name="South bookings")
    return mine, enroll_people(mine), theirs, enroll_people(theirs)


# --- the registry ---------------------------------------------------------------------------

def test_two_recipes_ship_and_another_is_a_setting(cast, settings) -> None:
    assert {"Dlib+mirror", "Dlib"} <= set(registered())
    assert registered()["Dlib+mirror"].mirror and not registered()["Dlib"].mirror
    assert cast.agency.face_recipe == "Dlib+mirror"  # the configured default
    assert weights_check()["ok"]
    settings.CASEBOUND = {**settings.CASEBOUND, "RECIPES": [{
        "name": "ArcFace", "deepface_model": "ArcFace", "dimensions": 512, "chip_size": 112,
        "chip_padding": 0.0, "weights": ["arcface_weights.h5"]}]}
    assert registered()["ArcFace"].dimensions == 512 and not registered()["ArcFace"].embeds_stored_chip
    check = weights_check()
    assert not check["ok"] and check["missing_files"] == ["arcface_weights.h5"]
    with pytest.raises(ServiceError) as refused:
        reembed.reembed_start(agency=cast.agency, recipe_name="ArcFace", actor=cast.admin)
    assert (refused.value.code, refused.value.status) == ("weights_missing", 409)
    with pytest.raises(ServiceError) as unknown:
        reembed.reembed_start(agency=cast.agency, recipe_name="Facenet", actor=cast.admin)
    assert unknown.value.code == "unknown_recipe" and unknown.value.status == 400
    assert not ReembedJob.objects.exists()


def test_a_recipe_without_a_calibration_cannot_be_adopted(cast, settings) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "RECIPES": [{
        "name": "Dlib-uncalibrated", "deepface_model": "Dlib", "dimensions": 128,
        "weights": ["dlib_face_recognition_resnet_model_v1.dat"]}]}
    page = web_client(cast.admin).post("/face-model/", {"recipe": "Dlib-uncalibrated"}, follow=True)
    assert page.status_code == 200
    assert "Dlib-uncalibrated has no score calibration" in page.content.decode()
    with pytest.raises(ServiceError) as refused:  # the platform's own account is refused too
        reembed.reembed_start(agency=cast.agency, recipe_name="Dlib-uncalibrated", actor=SYSTEM)
    assert (refused.value.code, refused.value.status) == ("calibration_missing", 409)
    with pytest.raises(CommandError, match="manage.py calibrate --recipe"):
        call_command("reembed", "--agency", cast.agency.slug, "--recipe", "Dlib-uncalibrated")
    assert not ReembedJob.objects.exists()
    cast.agency.refresh_from_db()
    assert cast.agency.face_recipe == "Dlib+mirror"


def test_a_recipe_with_only_the_normalized_table_cannot_be_adopted(cast, settings, tmp_path) -> None:
    # A small gallery draws its line on the cosine: without that table every search of an agency
    # under this many faces would fail after the move.
    import json
    import shutil

    from search.engine import calibration

    for table in settings.CASEBOUND["CALIBRATION_DIR"].glob("calibration-*.json"):
        shutil.copy(table, tmp_path)
    normalized = json.loads(calibration.table_path(tmp_path, "Dlib").read_text())
    calibration.table_path(tmp_path, "Dlib-half").write_text(
        json.dumps({**normalized, "recipe": "Dlib-half"}))
    settings.CASEBOUND = {**settings.CASEBOUND, "CALIBRATION_DIR": tmp_path, "RECIPES": [{
        "name": "Dlib-half", "deepface_model": "Dlib", "dimensions": 128,
        "weights": ["dlib_face_recognition_resnet_model_v1.dat"]}]}
    calibration.table_for.cache_clear()
    with pytest.raises(ServiceError) as refused:
        reembed.reembed_start(agency=cast.agency, recipe_name="Dlib-half", actor=SYSTEM)
    assert (refused.value.code, refused.value.status) == ("calibration_missing", 409)
    assert not ReembedJob.objects.exists()


# --- kept source photos ---------------------------------------------------------------------

def _exif_photo() -> bytes:
    image = Image.open(photos.photo_path("Colin_Powell", 0)).resize((1600, 1600))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def test_the_enrolled_photo_is_kept_without_metadata_and_bounded(cast, settings) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "SOURCE_PHOTO_MAX_SIDE": 800}
    gallery = GalleryFactory(agency=cast.agency)
    face = face_enroll(gallery=gallery, subject_reference="P-1", image=_exif_photo(), actor=SYSTEM)
    kept = Image.open(face.source_image.path)
    assert kept.format == "JPEG" and max(kept.size) == 800
    assert not kept.getexif() and b"SecretCam" not in Path(face.source_image.path).read_bytes()
    assert face.source_image.path != face.image.path and os.path.isfile(face.image.path)
    media = web_client(cast.admin).get("/media/" + face.source_image.name)
    assert media.status_code == 404  # private: no URL serves it


def test_erasure_retention_and_opt_out_purge_delete_the_kept_photo(
        cast, django_capture_on_commit_callbacks) -> None:
    gallery = GalleryFactory(agency=cast.agency, retention_days=30)
    erased = face_enroll(gallery=gallery, subject_reference="E", image=photos.photo("Colin_Powell", 0),
                         actor=SYSTEM)
    expired = face_enroll(gallery=gallery, subject_reference="R", image=photos.photo("Tony_Blair", 0),
                          actor=SYSTEM)
    opted = face_enroll(gallery=gallery, subject_reference="O", image=photos.photo("Laura_Bush", 0),
                        actor=SYSTEM)
    paths = {f.pk: f.source_image.path for f in (erased, expired, opted)}
    assert all(os.path.isfile(p) for p in paths.values())

    with django_capture_on_commit_callbacks(execute=True):
        subject_erase(subject=erased.subject, actor=cast.admin, order_reference="ORD-1")
    assert not os.path.exists(paths[erased.pk])

    Face.objects.filter(pk=expired.pk).update(created_at=timezone.now() - timedelta(days=31))
    with django_capture_on_commit_callbacks(execute=True):
        purge_expired()
    assert not os.path.exists(paths[expired.pk]) and os.path.isfile(paths[opted.pk])

    Face.objects.filter(pk=opted.pk).update(removed_at=timezone.now() - timedelta(days=400))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purge_expired")
    assert not os.path.exists(paths[opted.pk]) and not Face.all_objects.filter(agency=cast.agency).exists()


# --- the job --------------------------------------------------------------------------------

@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_agency_moves_to_a_new_recipe_through_the_worker(cast, north, celery_worker) -> None:
    gallery, people, theirs, _ = north
    person = people[0]
    before = _search(cast, person)
    assert before.model_name == "Dlib+mirror" and _top(before) == person
    theirs_before = dict(_agency_faces(cast.other_agency).values_list("pk", "embedding"))

    admin = web_client(cast.admin)
    assert web_client(cast.officer).get("/face-model/").status_code in (403, 404)
    assert web_client(cast.officer).post("/face-model/", {"recipe": NEW}).status_code in (403, 404)
    started = admin.post("/face-model/", {"recipe": NEW}, follow=True)
    assert started.status_code == 200 and b"has started" in started.content
    job = ReembedJob.objects.get(agency=cast.agency)
    assert (job.from_recipe, job.to_recipe, job.total) == ("Dlib+mirror", NEW, 10)
    wait_for(lambda: ReembedJob.objects.filter(pk=job.pk, status=ReembedStatus.DONE).exists(),
             timeout=120)

    cast.agency.refresh_from_db()
    assert cast.agency.face_recipe == NEW
    faces = _agency_faces(cast.agency)
    assert set(faces.values_list("model_name", flat=True)) == {NEW}
    assert not faces.filter(embedding_next__isnull=False).exists()
    after = _search(cast, person)
    assert after.model_name == NEW and _top(after) == person
    assert after.candidates.first().similarity != before.candidates.first().similarity  # new vectors

    theirs_now = dict(_agency_faces(cast.other_agency).values_list("pk", "embedding"))
    assert theirs_now.keys() == theirs_before.keys()
    assert all(np.array_equal(theirs_now[k], theirs_before[k]) for k in theirs_now)
    assert set(_agency_faces(cast.other_agency).values_list("model_name", flat=True)) == {"Dlib+mirror"}
    cast.other_agency.refresh_from_db()
    assert cast.other_agency.face_recipe == "Dlib+mirror"

    page = admin.get("/face-model/").content.decode()
    assert "10 of 10 faces (100%)" in page and 'id="current-recipe">Dlib<' in page
    assert web_client(cast.other_admin).get("/face-model/").content.decode().count("of 10 faces") == 0
    actions = set(AuditEvent.objects.filter(agency=cast.agency).values_list("action", flat=True))
    assert {AuditAction.REEMBED_STARTED, AuditAction.REEMBED_FINISHED} <= actions


def test_searches_during_the_job_use_the_old_recipe_and_new_faces_get_both(cast, north, settings) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "REEMBED_BATCH": 4}
    gallery, people, _, _ = north
    job = reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin, enqueue=False)
    seen: list[tuple[int, str, str]] = []

    def meanwhile(progress: ReembedJob) -> None:
        search = _search(cast, people[1])
        seen.append((progress.done, search.model_name, _top(search)))
        if len(seen) == 1:  # enrolled during the job: gets the new vector too
            face_enroll(gallery=gallery, subject_reference="Late", actor=SYSTEM,
                        image=photos.photo(photos.people()[7], 0))
            late = Face.objects.get(subject__reference="Late")
            assert late.model_name == "Dlib+mirror" and late.embedding_next is not None

    reembed.reembed_run(job_id=job.pk, on_batch=meanwhile)
    assert [m for _, m, _ in seen] == ["Dlib+mirror"] * len(seen) and len(seen) >= 2
    assert all(top == people[1] for _, _, top in seen)
    job.refresh_from_db()
    assert job.status == ReembedStatus.DONE and job.total == job.done == 11
    assert _top(_search(cast, people[1])) == people[1]
    ranked = selectors.nearest_faces(agency=cast.agency, embedding=np.ones(128), model_name="Dlib+mirror",
                                     limit=5)
    assert ranked == []  # the old vectors are gone: nothing answers under the old recipe


def test_a_search_that_straddles_the_switch_runs_again_under_the_new_recipe(
        cast, north, monkeypatch) -> None:
    _, people, _, _ = north
    job = reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin, enqueue=False)
    case = assigned_case(cast.agency, cast.officer)
    search = searching.search_create(case=case, user=cast.officer, probe=photos.photo(people[2], 2))
    real = selectors.nearest_faces
    asked: list[str] = []

    def switch_after_the_query(**kwargs: Any) -> Any:
        found = real(**kwargs)
        asked.append(kwargs["model_name"])
        if len(asked) == 1:  # the ranking is done under the old recipe; now the agency switches
            reembed.reembed_run(job_id=job.pk)
        return found

    monkeypatch.setattr(selectors, "nearest_faces", switch_after_the_query)
    searching.search_run(search_id=search.pk)
    search.refresh_from_db()
    assert asked == ["Dlib+mirror", NEW]
    assert search.status == "done" and search.model_name == NEW and _top(search) == people[2]
    assert search.candidates.count() >= 1
    assert all(c.face.model_name == NEW for c in search.candidates.select_related("face"))


@pytest.mark.django_db(transaction=True)  # graphs are built on the owner's own connection
def test_the_switch_rebuilds_the_agency_s_graph_for_the_new_recipe(cast, north, settings) -> None:
    from search.engine.vector_index import agency_index_current, agency_index_drop, agency_index_ensure

    settings.CASEBOUND = {**settings.CASEBOUND, "VECTOR_INDEX_MIN_FACES": 5}
    try:
        assert agency_index_ensure(cast.agency, model_name="Dlib+mirror")
        job = reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin,
                                    enqueue=False)
        reembed.reembed_run(job_id=job.pk)
        assert agency_index_current(cast.agency.pk, NEW)
        assert not agency_index_current(cast.agency.pk, "Dlib+mirror")
        assert _top(_search(cast, north[1][3])) == north[1][3]
    finally:
        agency_index_drop(cast.agency.pk)  # indexes outlive the tables' flush between tests


def test_a_recipe_changed_by_hand_fails_searches_clearly(cast, north) -> None:
    # The database owner sets the recipe without moving the vectors: nothing would compare.
    Agency.objects.filter(pk=cast.agency.pk).update(face_recipe=NEW)
    search = _search(cast, north[1][0])
    assert search.status == "failed" and search.error_code == "recipe_mismatch"
    assert "Tell the operator" in search.error and not search.candidates.exists()


def test_a_killed_job_resumes_where_it_stopped(cast, north, settings) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "REEMBED_BATCH": 3}
    job = reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin, enqueue=False)

    def killed(progress: ReembedJob) -> None:
        raise Killed

    with pytest.raises(Killed):
        reembed.reembed_run(job_id=job.pk, on_batch=killed)
    job.refresh_from_db()
    assert job.status == ReembedStatus.RUNNING and job.done == 3
    cast.agency.refresh_from_db()
    assert cast.agency.face_recipe == "Dlib+mirror"
    with pytest.raises(ServiceError) as second:
        reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin)
    assert second.value.code == "reembed_running" and second.value.status == 409

    progress: list[int] = []
    reembed.reembed_run(job_id=job.pk, on_batch=lambda j: progress.append(j.done))
    assert progress == [6, 9, 10]  # no face embedded twice
    job.refresh_from_db()
    assert job.status == ReembedStatus.DONE
    assert set(_agency_faces(cast.agency).values_list("model_name", flat=True)) == {NEW}


@pytest.mark.django_db(transaction=True)  # the benchmark's searches run on a connection of their own
def test_the_command_moves_an_agency_and_measures(cast, north, capsys) -> None:
    with pytest.raises(CommandError, match="No recipe is named"):
        call_command("reembed", "--agency", "north", "--recipe", "Nope")
    call_command("reembed", "--agency", "north", "--recipe", NEW, "--benchmark")
    out = capsys.readouterr().out
    assert "10 faces now under Dlib (agency recipe Dlib)" in out and "faces/s" in out
    assert "query p95" in out and ", 0 found nothing," in out
    with pytest.raises(CommandError, match="already uses"):
        call_command("reembed", "--agency", "north", "--recipe", NEW)


# --- opt-outs -------------------------------------------------------------------------------

def test_an_opt_out_suppresses_under_every_recipe_and_survives_the_move(
        cast, operator, mailoutbox) -> None:
    from search.tests.test_privacy import _approve, _consult, _filed_and_confirmed, _let_the_deadline_pass

    gallery = GalleryFactory(agency=cast.agency, name="Licences", honours_opt_outs=True,
                             legal_basis=LegalBasis.OTHER_STATUTE)
    face_enroll(gallery=gallery, subject_reference="Powell", actor=SYSTEM,
                image=photos.photo("Colin_Powell", 0))
    request = _filed_and_confirmed("Colin_Powell", "powell@example.org", mailoutbox)
    _consult(operator, request)
    _let_the_deadline_pass(request)
    assert _approve(operator, request).status_code == 200
    assert set(Suppression.objects.filter(request=request).values_list("model_name", flat=True)) \
        == {"Dlib+mirror", "Dlib"}

    job = reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin, enqueue=False)
    reembed.reembed_run(job_id=job.pk)
    cast.agency.refresh_from_db()
    assert cast.agency.face_recipe == NEW
    with pytest.raises(ServiceError) as refused:
        face_enroll(gallery=gallery, subject_reference="Powell-again", actor=SYSTEM,
                    image=photos.photo("Colin_Powell", 2))
    assert refused.value.code == "opted_out"


def test_a_recipe_without_every_suppression_cannot_be_adopted(cast) -> None:
    from search.models import OptOutRequest, OptOutStatus

    old = OptOutRequest.objects.create(model_name="Dlib+mirror", email="x@example.org",
                                       residence="US", status=OptOutStatus.APPROVED)
    Suppression.objects.create(request=old, model_name="Dlib+mirror", embedding=[0.1] * 128)
    with pytest.raises(ServiceError) as refused:
        reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin)
    assert refused.value.code == "suppressions_missing" and refused.value.status == 409
    Suppression.objects.create(request=old, model_name=NEW, embedding=[0.1] * 128)
    assert reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin,
                                 enqueue=False).status == ReembedStatus.QUEUED


def test_only_the_agency_admin_starts_a_job(cast) -> None:
    for user in (cast.officer, cast.supervisor, cast.auditor, cast.other_admin):
        with pytest.raises(ServiceError):
            reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=user)
    assert not ReembedJob.objects.exists()




# --- measure --------------------------------------------------------------------------------

SHARED_LFW = Path(__file__).resolve().parents[3] / "shared" / "data" / "lfw"
GALLERY_FACES = 200


def _lfw_photos(count: int) -> list[Path]:
    """The first `count` LFW photos: the shared full set when present, else the bundled fixtures."""
    root = SHARED_LFW if SHARED_LFW.is_dir() else photos.FIXTURES
    found: list[Path] = []
    for person in sorted(root.iterdir()):
        found += sorted(person.glob("*.jpg"))[:2]
        if len(found) >= count:
            break
    return found[:count]


@pytest.mark.django_db(transaction=True)
def test_a_gallery_of_a_few_hundred_faces_moves_while_searches_answer(cast, capsys) -> None:
    gallery = GalleryFactory(agency=cast.agency, name="LFW")
    paths = _lfw_photos(GALLERY_FACES)  # 200 with ../shared/data, the 30 bundled ones without
    for path in paths:
        with contextlib.suppress(ServiceError):  # a photo without a findable face: one fewer
            face_enroll(gallery=gallery, subject_reference=path.parent.name, actor=SYSTEM,
                        image=path.read_bytes())
    enrolled = _agency_faces(cast.agency).count()
    assert enrolled > len(paths) * 0.9
    call_command("reembed", "--agency", "north", "--recipe", NEW, "--benchmark")
    out = capsys.readouterr().out
    with capsys.disabled():
        print(f"\n[reembed benchmark, {enrolled} faces] " + out.strip().splitlines()[-2] + " / "
              + out.strip().splitlines()[-1])
    assert f"{enrolled} faces now under Dlib" in out and ", 0 found nothing," in out


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_job_whose_worker_is_killed_is_resumed_by_the_sweeper(cast) -> None:
    import signal

    from django.conf import settings as django_settings

    from search.services.reembed import reembed_jobs_orphaned
    from search.tasks import run_reembed
    from tests.fixtures import ARTIFACTS, _start_worker, _wait_until_ready

    gallery = GalleryFactory(agency=cast.agency, name="North bookings")
    enroll_people(gallery, count=8)
    queue = "reembed-kill-test"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test",
           "CASEBOUND_DB_NAME": django_settings.DATABASES["default"]["NAME"],
           "CASEBOUND_REEMBED_BATCH": "1"}
    job = reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin, enqueue=False)

    worker, log = _start_worker("reembed-kill", [queue], env)
    _wait_until_ready(worker, ARTIFACTS / "celery-reembed-kill.log")
    run_reembed.apply_async((job.pk, cast.agency.pk), queue=queue)
    wait_for(lambda: ReembedJob.objects.filter(pk=job.pk, done__gte=2).exists(), interval=0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    log.close()
    job.refresh_from_db()
    assert job.status == ReembedStatus.RUNNING and 2 <= job.done < 16
    cast.agency.refresh_from_db()
    assert cast.agency.face_recipe == "Dlib+mirror"
    assert reembed_jobs_orphaned() == [(job.pk, cast.agency.pk)]  # its lock died with it

    worker, log = _start_worker("reembed-resume", [queue], env)
    try:
        _wait_until_ready(worker, ARTIFACTS / "celery-reembed-resume.log")
        run_reembed.apply_async((job.pk, cast.agency.pk), queue=queue)  # as the sweeper does
        wait_for(lambda: ReembedJob.objects.filter(pk=job.pk, status=ReembedStatus.DONE).exists())
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert set(_agency_faces(cast.agency).values_list("model_name", flat=True)) == {NEW}
    assert reembed_jobs_orphaned() == []


def test_faces_get_cohorts_after_a_switch_whose_refresh_failed(cast, north, monkeypatch) -> None:
    """The switch clears the faces' cohorts; if the refresh right after it fails (the database
    away for a moment: the retried task finds the job done), the hourly task must still see that
    the new vectors have none, even when a state of an earlier stay on that recipe is there."""
    from django.db import OperationalError
    from django.utils import timezone

    from search.models import CohortState
    from search.services import cohorts
    from search.tasks import maintain_face_cohorts

    CohortState.objects.create(agency=cast.agency, model_name=NEW, faces=10,
                               refreshed_at=timezone.now(),
                               typical_mean=0.5, typical_std=0.1)  # left by an earlier stay

    def database_away(**kwargs: Any) -> int:
        raise OperationalError("the connection was lost")

    monkeypatch.setattr(reembed, "agency_cohorts_refresh", database_away)
    job = reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin, enqueue=False)
    with pytest.raises(OperationalError):
        reembed.reembed_run(job_id=job.pk)
    assert _agency_faces(cast.agency).filter(model_name=NEW, cohort_mean__isnull=True).count() == 10
    monkeypatch.undo()

    assert cohorts.cohorts_stale(agency=cast.agency, model_name=NEW)
    maintain_face_cohorts()
    assert not _agency_faces(cast.agency).filter(cohort_mean__isnull=True).exists()


@contextlib.contextmanager
def _job_run_elsewhere(job: ReembedJob) -> Any:
    """Another worker's session holds the job's lock, as while it runs the job."""
    from django.db import connections

    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [reembed.LOCK_CLASS, job.pk])
        yield
    finally:
        other.close()  # the session's lock goes with it


@pytest.mark.django_db(transaction=True)  # graphs are built on the owner's own connection
def test_a_switch_whose_follow_up_failed_gets_graph_and_cohorts_on_the_retry_once_at_a_time(
        cast, north, settings, monkeypatch) -> None:
    from django.db import OperationalError

    from search.engine.vector_index import agency_index_current, agency_index_drop

    settings.CASEBOUND = {**settings.CASEBOUND, "VECTOR_INDEX_MIN_FACES": 5}

    def database_away(**kwargs: Any) -> int:
        raise OperationalError("the connection was lost")

    monkeypatch.setattr(reembed, "agency_cohorts_refresh", database_away)
    job = reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin, enqueue=False)
    try:
        with pytest.raises(OperationalError):  # the task retries it (backoff 2, 4, 8 s)
            reembed.reembed_run(job_id=job.pk)
        monkeypatch.undo()
        job.refresh_from_db()
        assert job.status == ReembedStatus.DONE and job.followed_up_at is None
        assert _agency_faces(cast.agency).filter(cohort_mean__isnull=True).count() == 10
        assert reembed.reembed_jobs_orphaned() == [(job.pk, cast.agency.pk)]  # the sweeper's

        with _job_run_elsewhere(job):  # a worker is at it: not queued, not run a second time
            assert reembed.reembed_jobs_orphaned() == []
            reembed.reembed_run(job_id=job.pk)
            assert ReembedJob.objects.get(pk=job.pk).followed_up_at is None
            assert _agency_faces(cast.agency).filter(cohort_mean__isnull=True).count() == 10

        reembed.reembed_run(job_id=job.pk)  # the retry
        job.refresh_from_db()
        assert job.followed_up_at is not None
        assert agency_index_current(cast.agency.pk, NEW)
        assert not _agency_faces(cast.agency).filter(cohort_mean__isnull=True).exists()
        assert reembed.reembed_jobs_orphaned() == []
        assert _top(_search(cast, north[1][3])) == north[1][3]
    finally:
        agency_index_drop(cast.agency.pk)  # indexes outlive the tables' flush between tests


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_switch_whose_worker_died_before_the_follow_up_is_followed_up_by_the_sweeper(
        cast, north, celery_worker, monkeypatch) -> None:
    from search.models import CohortState
    from search.tasks import sweep_stale_searches

    def killed(**kwargs: Any) -> int:
        raise Killed

    monkeypatch.setattr(reembed, "agency_cohorts_refresh", killed)
    job = reembed.reembed_start(agency=cast.agency, recipe_name=NEW, actor=cast.admin, enqueue=False)
    with pytest.raises(Killed):  # switched; the worker dies before the cohorts (its lock with it)
        reembed.reembed_run(job_id=job.pk)
    monkeypatch.undo()
    cast.agency.refresh_from_db()
    assert cast.agency.face_recipe == NEW
    assert not CohortState.objects.filter(agency=cast.agency).exists()

    sweep_stale_searches.delay()  # the minute sweeper, on the real workers
    wait_for(lambda: ReembedJob.objects.filter(pk=job.pk, followed_up_at__isnull=False).exists(),
             timeout=90)
    assert not _agency_faces(cast.agency).filter(cohort_mean__isnull=True).exists()
    assert CohortState.objects.get(agency=cast.agency, model_name=NEW).faces == 10

"""A recipe of another dimension is configuration: agencies of 128-d and 256-d vectors share the
face table, each searched and indexed under its own, on real photos and the real model.

The 256-d recipe is real: the Dlib network's vectors of the chip and of its mirror image, kept
end to end instead of averaged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from PIL import Image

from agencies.tenancy.models import Agency
from agencies.tenancy.permissions import SYSTEM
from portal.db.owner import owner_cursor
from portal.errors import ServiceError
from search import selectors
from search.checks import check_recipes
from search.engine import calibration, pipeline
from search.engine.vector_index import agency_index_drop, agency_index_ensure, index_name
from search.models import Face, LegalBasis, Suppression
from search.services import reembed
from search.services.enrollment import face_enroll
from search.tests.test_reembed import _search, _top
from tests import photos
from tests.factories import GalleryFactory
from tests.fixtures import enroll_people

WIDE = "Dlib+mirror-256"
WIDE_RECIPE = {"name": WIDE, "deepface_model": "Dlib", "dimensions": 256, "mirror": "concat",
               "weights": ["dlib_face_recognition_resnet_model_v1.dat"]}


@pytest.fixture
def wide(settings: Any, tmp_path: Path) -> str:
    """The 256-d recipe registered by configuration alone, with calibration tables.

    The tables are Dlib+mirror's under the new name: a stand-in, since measuring this recipe's own
    needs LFW (`manage.py calibrate --recipe`); the cosine of two such vectors is the mean of its
    halves' cosines, so the scale is alike. What is tested here is storage and ranking.
    """
    for table in Path(settings.CASEBOUND["CALIBRATION_DIR"]).glob("calibration-*.json"):
        shutil.copy(table, tmp_path)
    for kind in (calibration.SCORE_KIND_NORMALIZED, calibration.SCORE_KIND_COSINE):
        shipped = json.loads(calibration.table_path(tmp_path, "Dlib+mirror", kind).read_text())
        calibration.table_path(tmp_path, WIDE, kind).write_text(json.dumps({**shipped, "recipe": WIDE}))
    settings.CASEBOUND = {**settings.CASEBOUND, "CALIBRATION_DIR": tmp_path, "RECIPES": [WIDE_RECIPE]}
    calibration.table_for.cache_clear()
    yield WIDE
    calibration.table_for.cache_clear()


def _rgb(person: str, index: int) -> Any:
    return np.asarray(Image.open(photos.photo_path(person, index)).convert("RGB"))


def _dimensions(agency: Agency) -> set[int]:
    with connection.cursor() as cursor:  # the test's connection reads every agency's rows
        cursor.execute("SELECT DISTINCT vector_dims(embedding) FROM search_face WHERE agency_id = %s",
                       [agency.pk])
        return {row[0] for row in cursor.fetchall()}


def _plan(agency: Agency, model_name: str) -> str:
    """The production ranking's plan with sequential scans and sorts priced out (so that the
    table's statistics of the moment do not decide): the agency's graph, the one path that gives
    the order without a sort, shows in it only if the query's expression is the graph's."""
    face = Face.objects.for_agency(agency).first()
    assert face is not None
    ranking = selectors.nearest_faces_ranking(agency=agency, embedding=face.embedding,
                                              model_name=model_name, limit=10)
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off; SET enable_sort = off")
        try:
            return ranking.explain()
        finally:
            cursor.execute("RESET enable_seqscan; RESET enable_sort")


def test_the_concat_recipe_makes_256_dimensions_whose_cosine_is_its_halves_mean(wide) -> None:
    from portal.recipes import recipe_get

    recipe = recipe_get(wide)
    chips = [pipeline.analyze(_rgb("Colin_Powell", i)).chip for i in (0, 1)]  # type: ignore[union-attr]
    a, b = (pipeline.embed_chip(chip, recipe) for chip in chips)
    assert a.shape == (256,) and abs(float(np.linalg.norm(a)) - 1.0) < 1e-5
    halves = [pipeline.embed_chip(chip, recipe_get("Dlib")) for chip in chips]
    mirrored = [pipeline.embed_chip(np.ascontiguousarray(chip[:, ::-1]), recipe_get("Dlib"))
                for chip in chips]
    expected = (float(halves[0] @ halves[1]) + float(mirrored[0] @ mirrored[1])) / 2
    assert abs(float(a @ b) - expected) < 1e-4


@pytest.mark.django_db(transaction=True)  # graphs are built on the owner's own connection
def test_an_agency_moves_to_a_wider_recipe_beside_one_that_stays(
        cast, wide, settings, operator, mailoutbox) -> None:
    from search.tests.test_privacy import (
        _approve,
        _consult,
        _filed_and_confirmed,
        _let_the_deadline_pass,
    )

    north = GalleryFactory(agency=cast.agency, name="North licences", honours_opt_outs=True,
                           legal_basis=LegalBasis.OTHER_STATUTE)
    south = GalleryFactory(agency=cast.other_agency, name="South licences", honours_opt_outs=True,
                           legal_basis=LegalBasis.OTHER_STATUTE)
    people, _ = enroll_people(north), enroll_people(south)
    # An opt-out decided while the wide recipe is installed: suppressed under all three recipes.
    request = _filed_and_confirmed("Tony_Blair", "blair@example.org", mailoutbox)
    _consult(operator, request)
    _let_the_deadline_pass(request)
    assert _approve(operator, request).status_code == 200
    assert set(Suppression.objects.filter(request=request).values_list("model_name", flat=True)) \
        == {"Dlib+mirror", "Dlib", WIDE}

    job = reembed.reembed_start(agency=cast.agency, recipe_name=WIDE, actor=cast.admin,
                                enqueue=False)
    reembed.reembed_run(job_id=job.pk)
    cast.agency.refresh_from_db()
    assert cast.agency.face_recipe == WIDE
    assert _dimensions(cast.agency) == {256} and _dimensions(cast.other_agency) == {128}

    # Each agency finds its people under its own recipe, in the one table.
    north_search = _search(cast, people[3])
    assert north_search.model_name == WIDE and _top(north_search) == people[3]
    south_cast = SimpleNamespace(agency=cast.other_agency, officer=cast.other_officer)
    south_search = _search(south_cast, people[3])
    assert south_search.model_name == "Dlib+mirror" and _top(south_search) == people[3]

    # The opt-out holds in both: 256-d and 128-d suppressions side by side.
    for gallery in (north, south):
        with pytest.raises(ServiceError) as refused:
            face_enroll(gallery=gallery, subject_reference="Blair-again", actor=SYSTEM,
                        image=photos.photo("Tony_Blair", 2))
        assert refused.value.code == "opted_out"
    added = face_enroll(gallery=north, subject_reference="Laura_Bush", actor=SYSTEM,
                        image=photos.photo("Laura_Bush", 0))
    assert added.model_name == WIDE and len(added.embedding) == 256

    # Each agency's graph indexes its own dimension, and its ranking walks it.
    settings.CASEBOUND = {**settings.CASEBOUND, "VECTOR_INDEX_MIN_FACES": 5}
    try:
        assert agency_index_ensure(cast.agency, model_name=WIDE)
        assert agency_index_ensure(cast.other_agency, model_name="Dlib+mirror")
        assert index_name(cast.agency.pk) in _plan(cast.agency, WIDE)
        assert index_name(cast.other_agency.pk) in _plan(cast.other_agency, "Dlib+mirror")
        assert _top(_search(cast, people[1])) == people[1]  # through the graph
    finally:
        agency_index_drop(cast.agency.pk)  # indexes outlive the tables' flush between tests
        agency_index_drop(cast.other_agency.pk)


def test_a_recipe_that_misstates_its_dimension_fails_clearly(settings) -> None:
    from portal.recipes import recipe_get

    settings.CASEBOUND = {**settings.CASEBOUND, "RECIPES": [{**WIDE_RECIPE, "name": "Dlib-wrong",
                                                            "dimensions": 512}]}
    chip = pipeline.analyze(_rgb("Colin_Powell", 0)).chip  # type: ignore[union-attr]
    with pytest.raises(ServiceError) as refused:
        pipeline.embed_chip(chip, recipe_get("Dlib-wrong"))
    assert refused.value.code == "recipe_misconfigured"
    assert "says 512 dimensions, but its model makes 256" in refused.value.message


@pytest.mark.parametrize(("entry", "problem"), [
    ({"dimensions": 0}, "dimensions must lie between 1 and 16000, not 0"),
    ({"dimensions": 20_000}, "not 20000"),
    ({"mirror": "sideways"}, "mirror must be false, true, \"mean\" or \"concat\", not 'sideways'"),
])
def test_a_recipe_the_column_cannot_hold_stops_the_start(settings, entry, problem) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "RECIPES": [{**WIDE_RECIPE, **entry}]}
    errors = check_recipes()
    assert [e.id for e in errors] == ["casebound.E003"] and problem in errors[0].msg
    settings.CASEBOUND = {**settings.CASEBOUND, "RECIPES": [WIDE_RECIPE]}
    assert check_recipes() == []


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_keeps_the_faces_and_rebuilds_an_agency_s_graph(cast) -> None:
    """An install upgraded from a release of 128-d columns, whose agency had a graph over the
    column itself (which a column without a dimension cannot keep)."""
    enroll_people(GalleryFactory(agency=cast.agency), count=3)
    faces = set(Face.objects.for_agency(cast.agency).values_list("pk", flat=True))
    name = index_name(cast.agency.pk)
    try:
        call_command("migrate", "search", "0021", verbosity=0)
        with owner_cursor() as cursor:
            cursor.execute(f'CREATE INDEX "{name}" ON search_face USING hnsw '
                           "(embedding vector_cosine_ops) WITH (m = 24, ef_construction = 128) "
                           f"WHERE agency_id = {cast.agency.pk} AND model_name = 'Dlib+mirror'")
        call_command("migrate", "search", verbosity=0)
        with owner_cursor() as cursor:
            cursor.execute("SELECT pg_get_indexdef(%s::regclass)", [name])
            definition = cursor.fetchone()[0]  # type: ignore[index]
        assert "((embedding)::vector(128)) vector_cosine_ops" in definition
        assert set(Face.objects.for_agency(cast.agency).values_list("pk", flat=True)) == faces
        assert name in _plan(cast.agency, "Dlib+mirror")
    finally:
        agency_index_drop(cast.agency.pk)
        call_command("migrate", verbosity=0)


def test_the_admin_sees_and_chooses_the_configured_recipe_on_the_page(cast, wide) -> None:
    from search.models import ReembedJob
    from tests.fixtures import web_client

    admin = web_client(cast.admin)
    page = admin.get("/face-model/").content.decode()
    assert f"<td>{WIDE}</td><td>Dlib</td><td>256</td>" in page and "yes, end to end" in page
    answer = admin.post("/face-model/", {"recipe": WIDE}, follow=True)
    assert answer.status_code == 200 and f"under {WIDE} has started" in answer.content.decode()
    assert ReembedJob.objects.get(agency=cast.agency).to_recipe == WIDE

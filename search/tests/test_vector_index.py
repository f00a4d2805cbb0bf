"""Each large agency's own HNSW graph: built when it grows, rebuilt when it is outdated or broken."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from django.core.checks import run_checks
from psycopg import sql
from pytest_django.fixtures import Settings as SettingsWrapper

from agencies.tenancy.models import Agency
from portal.db.owner import owner_cursor
from search.bench.benchmark_search import RECIPE, bulk_insert
from search.bench.embedding_space import EmbeddingSpace
from search.checks import check_ef_search
from search.engine.vector_index import (
    HNSW_M,
    agency_index_current,
    agency_index_drop,
    agency_index_ensure,
    build_memory_mb,
    index_name,
)
from search.models import Face
from search.selectors import nearest_faces
from tests.factories import AgencyFactory, GalleryFactory

FACES = 2000


@pytest.fixture
def grown_agency(transactional_db: None) -> Iterator[Agency]:
    """An agency of FACES committed faces (the owner's COPY, as the search benchmark loads them)."""
    agency = AgencyFactory()
    rng = np.random.default_rng(3)
    space = EmbeddingSpace.load()
    identities = rng.integers(0, 100, FACES)
    vectors = space.photos(rng, space.people(rng, 100)[identities])
    bulk_insert(agency, GalleryFactory(agency=agency), vectors, identities)
    yield agency
    agency_index_drop(agency.pk)  # indexes outlive the tables' flush between tests


def test_the_search_query_ranks_only_the_agency_s_faces_nearest_first(
        grown_agency: Agency, django_assert_num_queries: Any) -> None:
    faces = Face.objects.filter(agency=grown_agency).order_by("pk")
    ids = np.array(faces.values_list("pk", flat=True))
    matrix = np.array([np.asarray(f.embedding) for f in faces.only("embedding")], dtype=np.float32)
    query = matrix[17] + 0.01
    # Another agency holds the query itself: it would rank first if a foreign row were ranked.
    other = AgencyFactory()
    bulk_insert(other, GalleryFactory(agency=other), query[None, :], np.array([0]))
    with django_assert_num_queries(5):  # BEGIN, the search width, the ranking, COMMIT, the rows
        found = nearest_faces(agency=grown_agency, embedding=query, model_name=RECIPE, limit=10)
        names = [(f.subject.reference, f.gallery.name) for f in found]  # loaded with the faces
    exact = ids[np.argsort(-(matrix @ query) / np.linalg.norm(matrix, axis=1))[:10]]
    assert [f.pk for f in found] == exact.tolist()
    assert all(f.agency_id == grown_agency.pk for f in found) and len(names) == 10
    distances = [f.distance for f in found]  # type: ignore[attr-defined]
    assert distances == sorted(distances)


def _owner(statement: str, *names: str) -> None:
    with owner_cursor() as cursor:
        cursor.execute(sql.SQL(statement).format(*map(sql.Identifier, names)))


def _graphs_of(agency: Agency) -> list[tuple[str, list[str]]]:
    with owner_cursor() as cursor:
        cursor.execute("SELECT relname, reloptions FROM pg_class WHERE relname LIKE %s ORDER BY 1",
                       [f"{index_name(agency.pk)}%"])
        return [(name, options) for name, options in cursor.fetchall()]


def test_a_graph_is_built_once_the_agency_is_large_enough(grown_agency: Agency) -> None:
    assert not agency_index_ensure(grown_agency, model_name=RECIPE, min_faces=FACES + 1)
    assert _graphs_of(grown_agency) == []
    assert agency_index_ensure(grown_agency, model_name=RECIPE, min_faces=FACES)
    assert agency_index_current(grown_agency.pk, RECIPE)
    assert not agency_index_ensure(grown_agency, model_name=RECIPE, min_faces=FACES)  # kept
    assert _graphs_of(grown_agency) == [(index_name(grown_agency.pk),
                                         [f"m={HNSW_M}", "ef_construction=128"])]
    assert not agency_index_current(grown_agency.pk, "another recipe")


def test_a_graph_built_with_older_settings_is_replaced(grown_agency: Agency) -> None:
    _owner(f"CREATE INDEX {{}} ON search_face USING hnsw ((embedding::vector(128)) vector_cosine_ops) "
           f"WITH (m = 16, ef_construction = 64) WHERE agency_id = {grown_agency.pk} "
           f"AND model_name = '{RECIPE}'", index_name(grown_agency.pk))
    assert not agency_index_current(grown_agency.pk, RECIPE)
    assert agency_index_ensure(grown_agency, model_name=RECIPE, min_faces=FACES)
    assert _graphs_of(grown_agency) == [(index_name(grown_agency.pk),
                                         [f"m={HNSW_M}", "ef_construction=128"])]


def test_an_interrupted_build_is_cleaned_up_and_redone(grown_agency: Agency) -> None:
    # What a worker killed during CREATE INDEX CONCURRENTLY leaves: an invalid index, never used.
    assert agency_index_ensure(grown_agency, model_name=RECIPE, min_faces=FACES)
    with owner_cursor() as cursor:
        cursor.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = %s::regclass",
                       [index_name(grown_agency.pk)])
    _owner("CREATE INDEX {} ON search_face (id) WHERE false", f"{index_name(grown_agency.pk)}_rebuild")
    assert not agency_index_current(grown_agency.pk, RECIPE)
    assert agency_index_ensure(grown_agency, model_name=RECIPE, min_faces=FACES)
    assert agency_index_current(grown_agency.pk, RECIPE)
    assert [name for name, _ in _graphs_of(grown_agency)] == [index_name(grown_agency.pk)]


@pytest.mark.parametrize(("value", "errors"), [(800, []), (50, []), (1000, []),
                                               (1001, ["casebound.E001"]), (10, ["casebound.E001"])])
def test_ef_search_must_fit_pgvector_and_the_longest_candidate_list(
        value: int, errors: list[str], settings: SettingsWrapper) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "HNSW_EF_SEARCH": value}
    assert [message.id for message in check_ef_search()] == errors
    assert [m.id for m in run_checks() if m.id == "casebound.E001"] == errors


def test_a_graph_that_outgrows_its_memory_is_still_built_and_the_operator_told(
        grown_agency: Agency, settings: SettingsWrapper, caplog: pytest.LogCaptureFixture) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "INDEX_BUILD_MEMORY_MAX_MB": 1}
    assert agency_index_ensure(grown_agency, model_name=RECIPE, min_faces=FACES)
    assert agency_index_current(grown_agency.pk, RECIPE)
    assert "no longer fits into maintenance_work_mem" in caplog.text


def test_a_build_gets_memory_for_its_whole_graph_within_the_cap(settings: SettingsWrapper) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "INDEX_BUILD_MEMORY_MAX_MB": 4096}
    assert build_memory_mb(20_000) == 64  # pgvector's own default is 64 MB
    assert build_memory_mb(1_000_000) == 1954  # 2 KB a face: the graph fits, no slow fallback
    assert build_memory_mb(5_000_000) == 4096

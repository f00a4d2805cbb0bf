"""Tenant-scoped vector search that keeps its recall at any gallery size.

pgvector's HNSW filters *after* the graph walk, so one index over every agency's faces loses
recall for a small agency (measured here: 0.24 recall@10 for a 5k gallery in a 200k table).
Casebound therefore gives each agency its own graph: a partial HNSW index
`WHERE agency_id = <id> AND model_name = <recipe>`, built once the agency holds
VECTOR_INDEX_MIN_FACES faces. A query carries the same two predicates, so the planner walks only
that agency's graph (no post-filter, no lost recall); smaller agencies are searched exactly,
reading their rows through the B-tree on agency_id (the foreign key's), fast at that size.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import psycopg
from django.db import connection, transaction
from django.db.models import Func, IntegerField, QuerySet
from psycopg import sql

from agencies.tenancy.models import Agency
from portal.config import setting
from portal.db.owner import owner_cursor
from portal.recipes import GRAPH_MAX_DIMENSIONS
from search.models import Face

HNSW_M = 24  # measured: m 16 tops out at recall@10 0.9895 for one agency of 1M faces
HNSW_EF_CONSTRUCTION = 128
EF_SEARCH_MAX = 1000  # pgvector refuses a wider hnsw.ef_search
# pgvector builds quickly while the whole graph fits in maintenance_work_mem, then inserts page by
# page (measured here: ~150 faces/s instead of thousands). A 128-d face with m 24's neighbour lists
# takes ~1.5 KB of it; this leaves headroom: the lists' share, plus 4 bytes per dimension.
GRAPH_BYTES_PER_FACE = 1536

logger = logging.getLogger(__name__)


def index_name(agency_id: int) -> str:
    return f"search_face_hnsw_agency_{agency_id}"


def agency_index_current(agency_id: int, model_name: str) -> bool:
    """Whether the agency's graph is usable and built as this release builds it.

    A graph is outdated when it was built with other HNSW settings, for another recipe or over
    the column instead of its cast to the recipe's dimension, or is INVALID: CREATE INDEX
    CONCURRENTLY leaves an invalid index behind when it is interrupted (a worker killed
    mid-build), and Postgres never uses one.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid, c.reloptions, pg_get_expr(i.indpred, i.indrelid), "
            "pg_get_indexdef(i.indexrelid) "
            "FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = %s",
            [index_name(agency_id)])
        row = cursor.fetchone()
    if row is None:
        return False
    valid, options, predicate, definition = row
    wanted = {f"m={HNSW_M}", f"ef_construction={HNSW_EF_CONSTRUCTION}"}
    model = sql.Literal(model_name).as_string(None)
    # A recipe's name fixes its dimension; a graph of the column itself predates any dimension.
    return (bool(valid) and set(options or ()) == wanted and model in (predicate or "")
            and "::vector(" in definition)


def _create_sql(name: str, agency_id: int, model_name: str, dimensions: int) -> sql.Composed:
    """The agency's graph over its faces of one recipe. The column has no dimension (recipes
    differ), so the graph indexes the cast to the recipe's, as every ranking query writes it
    (search.selectors.cosine_distance)."""
    return sql.SQL(
        "CREATE INDEX CONCURRENTLY {name} ON search_face USING hnsw "
        "((embedding::vector({dimensions})) vector_cosine_ops) "
        "WITH (m = {m}, ef_construction = {ef}) "
        "WHERE agency_id = {agency} AND model_name = {model}").format(
        name=sql.Identifier(name), dimensions=sql.Literal(dimensions), m=sql.Literal(HNSW_M),
        ef=sql.Literal(HNSW_EF_CONSTRUCTION), agency=sql.Literal(agency_id),
        model=sql.Literal(model_name))


def _drop_sql(name: str) -> sql.Composed:
    return sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name))


def agency_index_ensure(agency: Agency, *, model_name: str, min_faces: int | None = None) -> bool:
    """Give a large enough agency a current HNSW graph; True if one was built.

    An outdated graph (see agency_index_current) is replaced: the new one is built under another
    name beside it, so searches keep the old graph until the new one is swapped in. Only the
    tables' owner may create an index, so the build runs on an owner connection of its own;
    CONCURRENTLY keeps enrollment and search going meanwhile. The faces must be committed.
    """
    threshold = int(setting("VECTOR_INDEX_MIN_FACES")) if min_faces is None else min_faces
    faces = Face.objects.for_agency(agency).filter(model_name=model_name)
    count, dimensions = faces.count(), _dimensions(faces)
    if count < threshold or agency_index_current(agency.pk, model_name):
        return False
    if dimensions > GRAPH_MAX_DIMENSIONS:
        return False  # pgvector cannot build it: the agency is searched exactly (docs/architecture.md)
    name, spare = index_name(agency.pk), f"{index_name(agency.pk)}_rebuild"
    with owner_cursor() as cursor:
        cursor.execute(sql.SQL("SET maintenance_work_mem = {}").format(
            sql.Literal(f"{build_memory_mb(count, dimensions)}MB")))
        cursor.execute(_drop_sql(spare))  # what an interrupted rebuild left behind

        def warn(notice: psycopg.errors.Diagnostic) -> None:
            # pgvector says by NOTICE when the graph outgrows its memory; the operator should know.
            logger.warning("building %s: %s", name, notice.message_primary)

        cursor.connection.add_notice_handler(warn)
        cursor.execute(_create_sql(spare, agency.pk, model_name, dimensions))
        cursor.connection.remove_notice_handler(warn)
        cursor.execute(_drop_sql(name))
        cursor.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            sql.Identifier(spare), sql.Identifier(name)))
    return True


def _dimensions(faces: QuerySet[Face]) -> int:
    """The dimension of these faces' vectors (one recipe's), read from a stored one: the recipe
    may be a benchmark's, which no registry knows."""
    found = faces.annotate(dimensions=Func("embedding", function="vector_dims",
                                           output_field=IntegerField()))
    return int(found.values_list("dimensions", flat=True).first() or 0)


def build_memory_mb(faces: int, dimensions: int = 128) -> int:
    """maintenance_work_mem for building a graph of this many faces, within the operator's cap."""
    wanted = max(64, faces * (GRAPH_BYTES_PER_FACE + 4 * dimensions) // 2**20 + 1)
    return min(wanted, int(setting("INDEX_BUILD_MEMORY_MAX_MB")))


def agency_index_drop(agency_id: int) -> None:
    with owner_cursor() as cursor:
        cursor.execute(_drop_sql(index_name(agency_id)))


def indexes_maintain() -> list[str]:
    """Give every agency that has grown large enough a current graph of its own, for its own
    recipe. Run daily by beat."""
    return [agency.slug for agency in Agency.objects.all()
            if agency_index_ensure(agency, model_name=agency.face_recipe)]


@contextlib.contextmanager
def search_width() -> Iterator[None]:
    """A transaction in which graph walks use CASEBOUND_HNSW_EF_SEARCH (SET LOCAL ends with it)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.ef_search = %s", [int(setting("HNSW_EF_SEARCH"))])
        yield


def index_figures() -> dict[str, int]:
    """Faces held (every agency: the caller gives the scope), and the per-agency graphs' count and
    bytes on disk; totals only, so whoever reads them learns no agency's size."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(sum(pg_relation_size(oid)), 0) FROM pg_class "
            "WHERE relkind = 'i' AND relname LIKE %s", [r"search\_face\_hnsw\_agency\_%"])
        graphs, graph_bytes = cursor.fetchone() or (0, 0)
    return {"faces": Face.objects.count(), "graphs": int(graphs), "graph_bytes": int(graph_bytes)}

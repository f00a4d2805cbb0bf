"""Hand-written: vectors of any dimension, so that a recipe of another model is configuration.

The embedding columns lose their fixed 128 dimensions; each row's recipe (`model_name`) says
its own. An HNSW graph cannot index a column without a dimension, so each agency's graph is
dropped first and built again afterwards over `embedding::vector(N)`, the expression every ranking
query now uses (search/engine/vector_index.py). The graphs are rebuilt inside this migration,
not left to the daily job: until then a large agency would be searched exactly, which takes
seconds at a million faces. Only agencies that had a graph get one again.
"""

from typing import Any

import pgvector.django
from django.db import migrations

GRAPHS = r"search\_face\_hnsw\_agency\_%"
HNSW = "WITH (m = 24, ef_construction = 128)"  # as search.engine.vector_index builds it
_rebuild: list[tuple[str, int, str]] = []  # (graph, agency, recipe): dropped here, built below


def drop_graphs(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(i.indpred, i.indrelid) FROM pg_class c "
            "JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relkind = 'i' AND c.relname LIKE %s",
            [GRAPHS])
        for name, predicate in cursor.fetchall():
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
            agency = name.removeprefix("search_face_hnsw_agency_")
            recipe = (predicate or "").partition("model_name)::text = '")[2].partition("'")[0]
            if agency.isdigit() and recipe:  # not a half-built `_rebuild` spare
                _rebuild.append((name, int(agency), recipe))


def build_graphs(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SET LOCAL casebound.bypass = 'on'")  # the owner is bound by row security
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        for name, agency, recipe in _rebuild:
            cursor.execute("SELECT vector_dims(embedding) FROM search_face "
                           "WHERE agency_id = %s AND model_name = %s LIMIT 1", [agency, recipe])
            row = cursor.fetchone()
            if row is None:
                continue
            cursor.execute(
                f'CREATE INDEX "{name}" ON search_face USING hnsw '
                f"((embedding::vector({int(row[0])})) vector_cosine_ops) {HNSW} "
                "WHERE agency_id = %s AND model_name = %s", [agency, recipe])
    _rebuild.clear()


def _untyped(model: str, name: str, null: bool) -> migrations.AlterField:
    return migrations.AlterField(model_name=model, name=name, field=pgvector.django.vector
                                 .VectorField(null=null, blank=null and name == "embedding_next"))


class Migration(migrations.Migration):
    dependencies = [("search", "0021_search_score_kind")]

    operations = [
        migrations.RunPython(drop_graphs, migrations.RunPython.noop),
        _untyped("face", "embedding", False),
        _untyped("face", "embedding_next", True),
        _untyped("optoutrequest", "embedding", True),
        _untyped("suppression", "embedding", False),
        migrations.RunPython(build_graphs, migrations.RunPython.noop),
    ]

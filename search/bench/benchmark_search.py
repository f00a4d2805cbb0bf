"""The search benchmark: synthetic agencies of very different sizes in the one shared face table,
queried through the production path, against exact NumPy search and FAISS in the same run.

The faces are drawn from a model of real LFW embeddings (search/bench/embedding_space.py): each
synthetic person has about three photos, and each query is a new photo of an enrolled person."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from numpy.typing import NDArray
from pgvector.psycopg import register_vector

from agencies.tenancy.models import Agency
from portal.config import setting
from portal.db.owner import owner_connection, owner_cursor
from search import selectors
from search.bench.embedding_space import EmbeddingSpace
from search.engine.vector_index import (
    HNSW_EF_CONSTRUCTION,
    HNSW_M,
    agency_index_drop,
    agency_index_ensure,
    index_name,
    search_width,
)
from search.models import Face, Gallery, LegalBasis, Subject

DIMENSIONS = 128
RECIPE = "benchmark"
K = 10


@dataclass
class AgencyFigures:
    faces: int
    path: str  # the access path Postgres chose for the production query
    recall_at_10: float
    p50_ms: float
    p95_ms: float
    qps: float
    # The first pass, with other photos of enrolled people, on pages that may not be in
    # shared_buffers yet (as after a restart); the figures above follow it, as on a server in use.
    first_pass_p95_ms: float
    numpy_qps: float
    faiss_flat_qps: float
    faiss_hnsw_qps: float
    faiss_hnsw_recall_at_10: float
    ef_sweep: list[dict[str, float]]  # the production query at other hnsw.ef_search values


def bulk_insert(agency: Agency, gallery: Gallery, vectors: NDArray[np.float32],
                per_identity: NDArray[np.int64]) -> None:
    """COPY subjects and faces in binary; a million rows take seconds, not hours.

    Postgres refuses COPY FROM into a table under row-level security, so this synthetic load
    runs as the owner, which is not subject to the policies (see agencies/tenancy/row_security.py).
    """
    now = timezone.now()
    with owner_connection() as owner:
        register_vector(owner)  # before the cursor, which copies the connection's type adapters
        cursor = owner.cursor()
        with cursor.copy("COPY search_subject (agency_id, gallery_id, reference, display_name, "
                         "created_at) FROM STDIN") as copy:
            for identity in range(int(per_identity.max()) + 1):
                copy.write_row((agency.pk, gallery.pk, f"bench-{identity}", "", now))
        cursor.execute("SELECT id FROM search_subject WHERE gallery_id = %s ORDER BY id", [gallery.pk])
        subject_ids = np.array([row[0] for row in cursor.fetchall()])
        with cursor.copy("COPY search_face (agency_id, gallery_id, subject_id, image, embedding, "
                         "model_name, detector, box, quality, provenance, source_sha256, created_at) "
                         "FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "int8", "int8", "varchar", "vector", "varchar", "varchar",
                            "jsonb", "float8", "varchar", "varchar", "timestamptz"])
            for vector, identity in zip(vectors, per_identity, strict=True):
                copy.write_row((agency.pk, gallery.pk, int(subject_ids[identity]), "", vector,
                                RECIPE, "synthetic", "{}", 1.0, "benchmark", "", now))


def _exact_top(matrix: NDArray[np.float32], query: NDArray[np.float32]) -> NDArray[np.int64]:
    scores = matrix @ query
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top])]


def _faiss(matrix: NDArray[np.float32], queries: NDArray[np.float32],
           truth: list[set[int]]) -> tuple[float, float, float]:
    import faiss

    flat = faiss.IndexFlatIP(DIMENSIONS)
    flat.add(matrix)
    started = time.perf_counter()
    for q in queries:
        flat.search(q[None, :], K)
    flat_qps = len(queries) / (time.perf_counter() - started)
    hnsw = faiss.IndexHNSWFlat(DIMENSIONS, HNSW_M, faiss.METRIC_INNER_PRODUCT)  # the production graph
    hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    hnsw.add(matrix)
    hnsw.hnsw.efSearch = int(setting("HNSW_EF_SEARCH"))  # the same width as production
    started = time.perf_counter()
    found = [hnsw.search(q[None, :], K)[1][0] for q in queries]
    hnsw_qps = len(queries) / (time.perf_counter() - started)
    recall = float(np.mean([len(set(f.tolist()) & t) / K for f, t in zip(found, truth, strict=True)]))
    return flat_qps, hnsw_qps, recall


def _access_path(agency: Agency, query: NDArray[np.float32]) -> str:
    """'hnsw (own graph)' when the production ranking's plan walks the agency's index, else 'exact'."""
    queryset = selectors.nearest_faces_ranking(agency=agency, embedding=query, model_name=RECIPE,
                                               limit=K)
    with search_width():
        plan = queryset.explain()
    return "hnsw (own graph)" if index_name(agency.pk) in plan else "exact"


def measure(agency: Agency, matrix: NDArray[np.float32], face_ids: NDArray[np.int64],
            queries: NDArray[np.float32], warmup: NDArray[np.float32],
            ef_sweep: tuple[int, ...] = ()) -> AgencyFigures:
    """The production query path for one agency, and the references on the same data."""
    first_pass = _latency(_timed(agency, warmup)[1])
    started = time.perf_counter()
    truth = [set(_exact_top(matrix, q).tolist()) for q in queries]
    numpy_qps = len(queries) / (time.perf_counter() - started)
    position = {int(face_id): i for i, face_id in enumerate(face_ids)}
    figures = _production(agency, queries, truth, position)
    path = _access_path(agency, queries[0])
    sweep = []
    if path.startswith("hnsw"):
        for ef_search in ef_sweep:
            with _ef_search(ef_search):
                sweep.append({"ef_search": ef_search, **_production(agency, queries, truth, position)})
    flat_qps, hnsw_qps, hnsw_recall = _faiss(matrix, queries, truth)
    return AgencyFigures(
        faces=len(matrix), path=path, **figures, first_pass_p95_ms=first_pass["p95_ms"],
        numpy_qps=round(numpy_qps, 1),
        faiss_flat_qps=round(flat_qps, 1), faiss_hnsw_qps=round(hnsw_qps, 1),
        faiss_hnsw_recall_at_10=round(hnsw_recall, 4), ef_sweep=sweep)


def _production(agency: Agency, queries: NDArray[np.float32], truth: list[set[int]],
                position: dict[int, int]) -> dict[str, float]:
    """Recall@10 and latency of selectors.nearest_faces, the query a search runs."""
    found, latencies = _timed(agency, queries)
    recalls = [len({position[pk] for pk in pks} & expected) / K
               for pks, expected in zip(found, truth, strict=True)]
    return {"recall_at_10": round(float(np.mean(recalls)), 4), **_latency(latencies)}


def _timed(agency: Agency, queries: NDArray[np.float32]) -> tuple[list[list[int]], list[float]]:
    """The faces each query found, and its milliseconds."""
    found, latencies = [], []
    for query in queries:
        begun = time.perf_counter()
        faces = selectors.nearest_faces(agency=agency, embedding=query, model_name=RECIPE, limit=K)
        latencies.append((time.perf_counter() - begun) * 1000)
        found.append([face.pk for face in faces])
    return found, latencies


def _latency(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {"p50_ms": round(statistics.median(ordered), 2),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
            "qps": round(len(ordered) / (sum(ordered) / 1000), 1)}


@contextlib.contextmanager
def _ef_search(value: int) -> Iterator[None]:
    saved = settings.CASEBOUND["HNSW_EF_SEARCH"]
    settings.CASEBOUND["HNSW_EF_SEARCH"] = value
    try:
        yield
    finally:
        settings.CASEBOUND["HNSW_EF_SEARCH"] = saved


@dataclass
class BenchmarkResult:
    faces: int
    agencies: list[dict[str, Any]]
    index_build_seconds: float
    load_seconds: float


def run(sizes: list[int], queries_per_agency: int, index_min: int, seed: int = 7,
        log: Any = print, ef_sweep: tuple[int, ...] = ()) -> BenchmarkResult:
    """Load every agency into the shared table, build the graphs that the size rule asks for,
    then measure each agency."""
    space, rng = EmbeddingSpace.load(), np.random.default_rng(seed)
    loaded = []
    started = time.perf_counter()
    for n, size in enumerate(sizes):
        agency = Agency.objects.create(name=f"Benchmark agency {n}", slug=f"bench-{seed}-{n}-{size}")
        gallery = Gallery.objects.create(agency=agency, name="Synthetic", source="benchmark",
                                         legal_basis=LegalBasis.OTHER_STATUTE)
        identities = max(1, size // 3)
        centres = space.people(rng, identities)
        per_identity = rng.integers(0, identities, size)
        vectors = space.photos(rng, centres[per_identity])
        bulk_insert(agency, gallery, vectors, per_identity)
        probe_identities = rng.integers(0, identities, queries_per_agency)
        loaded.append((agency, vectors, space.photos(rng, centres[probe_identities]), centres))
        log(f"loaded {size} faces for {agency.slug}")
    load_seconds = time.perf_counter() - started
    with owner_cursor() as cursor:
        cursor.execute("ANALYZE search_face")
    started = time.perf_counter()
    for agency, *_ in loaded:
        if agency_index_ensure(agency, model_name=RECIPE, min_faces=index_min):
            log(f"built the HNSW graph of {agency.slug}")
    build_seconds = time.perf_counter() - started
    figures = []
    for agency, vectors, queries, centres in loaded:
        ids = np.array(Face.objects.filter(agency=agency).order_by("id").values_list("id", flat=True))
        # Drawn after everything else, so the galleries and queries stay those of earlier runs.
        warmup = space.photos(rng, centres[rng.integers(0, len(centres), len(queries))])
        figures.append(asdict(measure(agency, vectors, ids, queries, warmup, ef_sweep)))
        log(f"measured {agency.slug}: {figures[-1]}")
    return BenchmarkResult(faces=sum(sizes), agencies=figures,
                           index_build_seconds=round(build_seconds, 1),
                           load_seconds=round(load_seconds, 1))


def cleanup(seed: int = 7) -> None:
    """Remove every benchmark agency, its rows and its graph."""
    agencies = list(Agency.objects.filter(slug__startswith=f"bench-{seed}-"))
    for agency in agencies:
        agency_index_drop(agency.pk)
    with transaction.atomic():
        for agency in agencies:
            Face.objects.filter(agency=agency).delete()
            Subject.objects.filter(agency=agency).delete()
            Gallery.objects.filter(agency=agency).delete()
            agency.delete()

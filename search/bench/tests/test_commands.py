"""The measurement commands (evaluate_lfw, evaluate_identification, benchmark_search,
benchmark_pipeline, fit_embedding_space) on the bundled photos: each prints figures and a JSON line."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from agencies.tenancy.models import Agency
from tests import photos


def _pairs_file(tmp_path: Path) -> Path:
    people = photos.people()
    lines = []
    for name in people:
        lines += [f"{name}\t{i}\t{j}" for i, j in ((1, 2), (1, 3), (2, 3))]
    for k, name in enumerate(people):
        for step in (1, 2, 3):
            other = people[(k + step) % len(people)]
            lines.append(f"{name}\t{step}\t{other}\t{(step % 3) + 1}")
    numbered = _numbered_copy(tmp_path)
    (tmp_path / "pairs.txt").write_text(f"{len(people) * 3}\n" + "\n".join(lines) + "\n")
    return numbered


def _numbered_copy(tmp_path: Path) -> Path:
    """The fixtures renamed to LFW's Name_000N.jpg numbering (1-based, in file order)."""
    root = tmp_path / "lfw"
    for name in photos.people():
        (root / name).mkdir(parents=True)
        for index in range(3):
            shutil.copy(photos.photo_path(name, index), root / name / f"{name}_{index + 1:04d}.jpg")
    return root


def test_evaluate_lfw_prints_folds_and_a_json_summary(tmp_path: Path) -> None:
    images = _pairs_file(tmp_path)
    out = io.StringIO()
    call_command("evaluate_lfw", "--images", str(images), "--pairs", str(tmp_path / "pairs.txt"),
                 stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert sum(line.startswith("fold") for line in lines) == 10
    summary = json.loads(lines[-1])
    assert summary["pairs"] == 90
    assert summary["accuracy_mean"] >= 0.9
    assert 0 <= summary["accuracy_std"] < 0.2
    assert summary["images_per_second"] > 0


def test_evaluate_identification_reports_rank_rates_and_fnir(tmp_path: Path) -> None:
    images = _numbered_copy(tmp_path)
    out = io.StringIO()
    call_command("evaluate_identification", "--images", str(images), "--processes", "2", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["people"] == 15 and summary["probes"] == 30
    assert summary["rank1"] >= 0.9 and summary["rank10"] == 1.0
    assert 0 <= summary["fnir_at_fpir_1pct"] <= 1
    assert 0.5 < summary["threshold_at_fpir_1pct"] < 1
    normalized = summary["normalized"]
    assert normalized["rank1"] >= 0.9 and 0 <= normalized["fnir_at_fpir_1pct"] <= 1
    # The normalized threshold is in standard deviations, not a cosine.
    assert normalized["threshold_at_fpir_1pct"] > 1
    # And how well the estimates the search shows hold on held-out people, in the same run.
    errors = summary["calibration_error"]
    assert {(row["gallery_size"], row["target"]) for row in errors} == {(15, 0.01), (15, 0.001)}
    assert all(row["searches"] > 0 and row["threshold"] > 0 for row in errors)
    assert "calibration of adaptive_s_norm_k50 on held-out people" in out.getvalue()
    # The cosine table's too, checked down to the small galleries it serves.
    cosine = summary["calibration_error_cosine"]
    assert {row["gallery_size"] for row in cosine} == {15}
    assert all(row["searches"] > 0 and 0 < row["threshold"] < 1 for row in cosine)
    assert "calibration of cosine_similarity on held-out people" in out.getvalue()


def test_evaluate_identification_embeds_once_with_a_cache(tmp_path: Path) -> None:
    images, cache = _numbered_copy(tmp_path), tmp_path / "embeddings.npz"
    first = io.StringIO()
    call_command("evaluate_identification", "--images", str(images), "--embeddings-cache",
                 str(cache), "--processes", "1", stdout=first, stderr=io.StringIO())
    assert cache.is_file()
    shutil.rmtree(images)  # the second run needs no photo
    second = io.StringIO()
    plot = tmp_path / "scores.png"
    call_command("evaluate_identification", "--embeddings-cache", str(cache), "--variants",
                 "--plot", str(plot), stdout=second, stderr=io.StringIO())
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    before, after = (json.loads(o.getvalue().strip().splitlines()[-1]) for o in (first, second))
    assert after["images_per_second"] is None  # nothing was embedded
    assert {k: v for k, v in after.items() if k != "images_per_second"} == \
        {k: v for k, v in before.items() if k != "images_per_second"}
    assert "raw cosine: rank-1" in second.getvalue()
    assert "| centered + adaptive S-norm, k=50 |" in second.getvalue()  # the variants' table
    # Beyond S-norm too, each row with its share of mates among the re-ranked (the ceiling).
    rows = {line.split(" | ")[0]: line for line in second.getvalue().splitlines()}
    assert rows["| k-reciprocal, k1=20, k2=6, lambda=0.3"].endswith(" | 1.0000 |")
    assert "| dynamic inverted softmax (QB-Norm), beta=100 |" in second.getvalue()


def test_evaluate_identification_refuses_a_missing_folder_and_a_bad_cache(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--images must be the LFW folder"):
        call_command("evaluate_identification", "--embeddings-cache", str(tmp_path / "none.npz"))
    (tmp_path / "bad.npz").write_bytes(b"not a cache")
    with pytest.raises(CommandError, match="is not a readable cache"):
        call_command("evaluate_identification", "--embeddings-cache", str(tmp_path / "bad.npz"))


def test_calibrate_builds_the_table_and_reuses_the_embeddings_cache(tmp_path: Path) -> None:
    from search.engine import calibration

    images, cache = _numbered_copy(tmp_path), tmp_path / "cache.npz"
    call_command("calibrate", "--images", str(images), "--embeddings-cache", str(cache),
                 "--output-dir", str(tmp_path), stdout=io.StringIO())
    assert cache.is_file()
    table_file = calibration.table_path(tmp_path, "Dlib+mirror")
    first = json.loads(table_file.read_text())
    assert first["recipe"] == "Dlib+mirror" and first["score_kind"] == calibration.SCORE_KIND
    assert first["cohort_prior"]["std"] > 0
    assert first["comparisons"] == 30 * 14 and "LFW" in first["fitted_on"]
    assert first["min_gallery"] == 500
    cosine = json.loads(calibration.table_path(tmp_path, "Dlib+mirror",
                                               calibration.SCORE_KIND_COSINE).read_text())
    assert cosine["score_kind"] == calibration.SCORE_KIND_COSINE and cosine["comparisons"] == 420
    assert cosine["effective_gallery"]["at_most_gallery"] is True
    assert cosine["grid"][0] == 0.0 and cosine["grid"][-1] == 1.0
    shutil.rmtree(images)  # with the cache, nothing is embedded: the photos are not needed
    out = io.StringIO()
    call_command("calibrate", "--images", str(images), "--embeddings-cache", str(cache),
                 "--output-dir", str(tmp_path), stdout=out)
    assert json.loads(table_file.read_text())["tail"] == first["tail"]
    assert json.loads(out.getvalue().strip().splitlines()[-1])["comparisons"] == 420
    evaluated = io.StringIO()
    call_command("evaluate_identification", "--images", str(images), "--embeddings-cache",
                 str(cache), stdout=evaluated)
    assert json.loads(evaluated.getvalue().strip().splitlines()[-1])["people"] == 15
    # A cache of one recipe never calibrates another.
    with pytest.raises(CommandError, match="holds Dlib\\+mirror embeddings, not Dlib"):
        call_command("calibrate", "--embeddings-cache", str(cache), "--recipe", "Dlib",
                     "--output-dir", str(tmp_path))
    assert not calibration.table_path(tmp_path, "Dlib").exists()



@pytest.mark.django_db(transaction=True)  # the owner's connection loads and indexes the faces
def test_benchmark_search_keeps_recall_on_both_paths() -> None:
    out, log = io.StringIO(), io.StringIO()
    call_command("benchmark_search", "--sizes", "300,2000", "--queries", "20", "--index-min", "1000",
                 stdout=out, stderr=log)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    small, large = summary["agencies"]
    assert small["path"] == "exact" and small["recall_at_10"] == 1.0
    # The larger agency gets its own graph (at this toy size the planner may still prefer exact).
    assert "built the HNSW graph of bench-7-1-2000" in log.getvalue()
    assert large["recall_at_10"] >= 0.95
    assert large["p95_ms"] > 0 and large["first_pass_p95_ms"] > 0
    assert large["numpy_qps"] > 0 and large["faiss_hnsw_qps"] > 0
    assert not Agency.objects.filter(slug__startswith="bench-").exists()  # cleaned up


@pytest.mark.django_db
def test_benchmark_pipeline_times_every_stage() -> None:
    out = io.StringIO()
    call_command("benchmark_pipeline", "--images", str(photos.FIXTURES), "--people", "4",
                 "--probes", "3", "--processes", "2", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["probes"] == 3 and summary["enrollment_faces_per_second"] > 0
    assert summary["enrollment_stored_faces_per_second_1_process"] > 0
    for stage in ("decode", "detect", "align", "embed", "query", "store"):
        assert summary[f"{stage}_ms_p50"] > 0, stage
    assert not Agency.objects.filter(slug="bench-pipeline").exists()


def test_fit_embedding_space_saves_a_model_and_compares_it_with_real_faces(tmp_path: Path) -> None:
    from search.bench.embedding_space import EmbeddingSpace

    out = io.StringIO()
    call_command("fit_embedding_space", "--images", str(photos.FIXTURES), "--people", "15",
                 "--processes", "2", "--out", str(tmp_path / "space.npz"), stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["people"] == 15 and summary["photos"] == 45
    assert summary["real"]["same_person_cos_mean"] > summary["real"]["different_people_cos_mean"]
    assert set(summary["synthetic"]) == set(summary["real"])
    assert EmbeddingSpace.load(tmp_path / "space.npz").between.shape == (128, 128)


@pytest.mark.django_db
def test_benchmark_search_refuses_an_ef_search_pgvector_does_not_take() -> None:
    with pytest.raises(CommandError, match="1 to 1000"):
        call_command("benchmark_search", "--sizes", "100", "--ef-search", "400,1200")


def test_calibrate_runs_where_the_system_check_would_refuse_for_a_missing_table(tmp_path: Path) -> None:
    """`manage.py calibrate` is how a missing table is rebuilt: the check that refuses every other
    command without one (casebound.E002) must not stop it."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "CASEBOUND_CALIBRATION_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "manage.py", "calibrate", "--embeddings-cache",
                           str(tmp_path / "none.npz")], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0 and "casebound.E002" not in done.stderr
    assert "--images must be the LFW folder" in done.stderr
    checked = subprocess.run([sys.executable, "manage.py", "check"], cwd=root, env=env,
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode != 0 and "casebound.E002" in checked.stderr  # the others still stop

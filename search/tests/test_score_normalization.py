"""Score normalization (search/engine/scoring.py, search/services/cohorts.py): its math on real
embeddings of the fixture photos, the order of a real search, cohorts kept current as galleries
change, and never another agency's faces in a cohort."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.test import override_settings

from agencies.tenancy.permissions import SYSTEM
from agencies.tenancy.querysets import TenantQuerySet
from agencies.tenancy.row_security import agency_rows
from search.bench import normalization
from search.bench.identification import Split
from search.engine import pipeline, scoring
from search.models import CohortState, Face, Search
from search.services import cohorts, searching
from search.services.enrollment import face_enroll
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import api_client, enroll_people, wait_for
from tests.test_tenant_isolation import _without_app_filter


def _embed(person: str, index: int, thorough: bool = False) -> np.ndarray:
    face = pipeline.analyze(pipeline.decode(photos.photo(person, index)), thorough=thorough)
    assert face is not None
    return face.embedding.astype(np.float64)


@pytest.fixture(scope="module")
def lfw_split() -> Split:
    """The identification split on the fixture photos: photo 0 enrolled, photos 1 and 2 probes."""
    people = photos.people()
    gallery = np.array([_embed(p, 0, thorough=True) for p in people], dtype=np.float32)
    probes = np.array([_embed(p, i) for p in people for i in (1, 2)], dtype=np.float32)
    return Split(gallery, np.arange(len(people)), probes, np.repeat(np.arange(len(people)), 2))


def _expected_nonmated_top(split: Split, k: int) -> np.ndarray:
    """The best S-norm score of each search for a person left out of the gallery, computed one
    search at a time with the production functions."""
    tops = []
    for probe, label in zip(split.probes, split.probe_labels, strict=True):
        enrolled = np.flatnonzero(split.gallery_labels != label)
        gallery = split.gallery[enrolled].astype(np.float64)
        sims = gallery @ probe
        probe_mean, probe_std = scoring.probe_cohort_stats(sims, enrolled, k)
        face_stats = [scoring.top_k_stats(np.delete(gallery @ g, i), k) for i, g in enumerate(gallery)]
        face_mean, face_std = (np.array(v) for v in zip(*face_stats, strict=True))
        tops.append(scoring.s_norm(sims, probe_mean, probe_std, face_mean, face_std).max())
    return np.array(tops)


def test_the_evaluation_scores_non_mated_searches_as_the_search_does(lfw_split: Split) -> None:
    k = 5
    variant = normalization.Variant("S-norm", mode="s", k=k)
    got = normalization.nonmated_top_scores(lfw_split.gallery, lfw_split.gallery_labels,
                                            lfw_split.probes, lfw_split.probe_labels, variant)
    np.testing.assert_allclose(got, _expected_nonmated_top(lfw_split, k), rtol=1e-4, atol=1e-4)


def test_the_calibration_comparisons_are_the_scores_of_non_mated_searches(lfw_split: Split) -> None:
    # On the toy gallery every face is re-ranked, so each non-mated search's best score is the
    # best of its per-comparison scores: the calibration's tail is fitted on the searched score.
    comparisons = normalization.nonmated_comparisons(lfw_split)
    probes, people = len(lfw_split.probes), len(lfw_split.gallery)
    assert comparisons.shape == (probes * (people - 1),)
    tops = normalization.nonmated_top_scores(lfw_split.gallery, lfw_split.gallery_labels,
                                             lfw_split.probes, lfw_split.probe_labels)
    np.testing.assert_allclose(comparisons.reshape(probes, people - 1).max(1), tops,
                               rtol=1e-4, atol=1e-4)
    # In a drawn gallery without the probe's person, nothing is left out.
    drawn = np.arange(people) % 2 == 1
    absent = lfw_split.probe_labels % 2 == 0
    sub = Split(lfw_split.gallery[drawn], lfw_split.gallery_labels[drawn],
                lfw_split.probes[absent], lfw_split.probe_labels[absent])
    assert normalization.nonmated_comparisons(sub).shape == (absent.sum() * drawn.sum(),)


def test_the_probe_cohort_leaves_the_candidates_own_subject_out(lfw_split: Split) -> None:
    probe = lfw_split.probes[0].astype(np.float64)  # the first person's photo 1
    faces = np.concatenate([lfw_split.gallery, lfw_split.probes[1::2]])  # two faces a person
    subjects = np.concatenate([lfw_split.gallery_labels, lfw_split.gallery_labels])
    sims = faces @ probe
    means, stds = scoring.probe_cohort_stats(sims, subjects, k=4)
    mate = 0  # the same person's photo 0: the best similarity, and not in its own cohort
    assert sims[mate] == sims.max() and sims[mate] > 0.9
    others = np.sort(sims[subjects != 0])[::-1][:4]
    assert means[mate] == pytest.approx(others.mean())
    assert stds[mate] == pytest.approx(max(others.std(), scoring.STD_FLOOR))
    # Another person's candidate has the mate's two faces in its cohort: a higher bar.
    assert means[1] > means[mate]


def test_a_face_that_stands_out_outranks_one_close_to_everyone() -> None:
    sims = np.array([0.93, 0.92])
    scores = scoring.s_norm(sims, np.array([0.6, 0.6]), np.array([0.05, 0.05]),
                            face_mean=np.array([0.91, 0.55]), face_std=np.array([0.02, 0.05]))
    assert scores[1] > scores[0]  # the hub (cohort mean 0.91) falls behind


def test_a_face_without_a_cohort_is_scored_with_the_agencys_typical_one() -> None:
    mean, std = scoring.fill_missing(np.array([0.5, np.nan]), np.array([0.04, np.nan]),
                                     0.62, 0.03, np.array([0.7, 0.7]), np.array([0.1, 0.1]))
    assert list(mean) == [0.5, 0.62] and list(std) == [0.04, 0.03]
    mean, std = scoring.fill_missing(np.array([np.nan]), np.array([np.nan]), None, None,
                                     np.array([0.7]), np.array([0.1]))
    assert list(mean) == [0.7] and list(std) == [0.1]  # no agency figure yet: T-norm


def _expected_cohort(face: Face) -> tuple[float, float]:
    """A face's cohort from its own agency's faces of other subjects, computed here."""
    others = Face.objects.filter(agency=face.agency_id).exclude(subject=face.subject_id)
    sims = [float(np.dot(face.embedding, f.embedding)) for f in others]
    return scoring.top_k_stats(np.array(sims))


def _assert_current(face: Face) -> None:
    face.refresh_from_db()
    mean, std = _expected_cohort(face)
    assert face.cohort_mean == pytest.approx(mean, abs=1e-5)
    assert face.cohort_std == pytest.approx(std, abs=1e-5)


@pytest.mark.django_db
def test_an_enrolled_face_gets_its_cohort_from_its_own_agency_only(cast) -> None:
    # The other agency enrolls the same people's third photos: near twins of ours. Were they in
    # our cohorts, our faces' cohort means would jump towards 0.95.
    theirs = GalleryFactory(agency=cast.other_agency)
    for name in photos.people()[:4]:
        face_enroll(actor=SYSTEM, gallery=theirs, subject_reference=name,
                    image=photos.photo(name, 2))
    mine = GalleryFactory(agency=cast.agency)
    enroll_people(mine, count=3)
    faces = list(Face.objects.filter(agency=cast.agency).order_by("pk"))
    assert faces[0].cohort_mean is None  # the agency's first subject had nobody to compare with
    assert faces[2].cohort_mean is not None  # enrolled once another subject was there
    _assert_current(faces[-1])  # enrolled last: its cohort is the whole agency's other subjects
    cohorts.agency_cohorts_refresh(agency=cast.agency, model_name=pipeline.MODEL_NAME)
    for face in faces:
        _assert_current(face)
        assert face.cohort_mean < 0.9  # no twin from the other agency in it
    state = CohortState.objects.get(agency=cast.agency)
    assert state.faces == 6 and state.typical_mean == pytest.approx(
        np.median([f.cohort_mean for f in faces]))


@pytest.mark.django_db
def test_row_security_alone_keeps_the_other_agency_out_of_a_refresh(cast, monkeypatch) -> None:
    theirs = GalleryFactory(agency=cast.other_agency)
    for name in photos.people()[:3]:
        face_enroll(actor=SYSTEM, gallery=theirs, subject_reference=name, image=photos.photo(name, 2))
    enroll_people(GalleryFactory(agency=cast.agency), count=3)
    monkeypatch.setattr(TenantQuerySet, "for_agency", _without_app_filter)  # the first wall down
    model = pipeline.MODEL_NAME
    with agency_rows(cast.agency.pk):  # as the maintenance task runs it
        cohorts.agency_cohorts_refresh(agency=cast.agency, model_name=model)
    monkeypatch.undo()
    for face in Face.objects.filter(agency=cast.agency):
        _assert_current(face)
    # Without both walls the other agency's twins would be in the cohorts: the test can fail.
    monkeypatch.setattr(TenantQuerySet, "for_agency", _without_app_filter)
    cohorts.agency_cohorts_refresh(agency=cast.agency, model_name=model)  # test scope: every row
    monkeypatch.undo()
    face = Face.objects.filter(agency=cast.agency).first()
    assert face.cohort_mean > _expected_cohort(face)[0] + 0.005


@pytest.mark.django_db
def test_cohorts_go_stale_once_enough_of_the_gallery_changed(cast, settings) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "COHORT_REFRESH_MIN_CHANGES": 3}
    gallery = GalleryFactory(agency=cast.agency)
    enroll_people(gallery, count=2)
    model = pipeline.MODEL_NAME
    assert cohorts.cohorts_stale(agency=cast.agency, model_name=model)  # never computed
    assert cohorts.agency_cohorts_maintain(agency=cast.agency, model_name=model) == 4
    assert not cohorts.cohorts_stale(agency=cast.agency, model_name=model)
    face_enroll(actor=SYSTEM, gallery=gallery, subject_reference="x", image=photos.photo("Hugo_Chavez", 0))
    Face.objects.filter(agency=cast.agency).first().delete()
    assert cohorts.cohorts_changed(agency=cast.agency, model_name=model) == 2
    assert not cohorts.cohorts_stale(agency=cast.agency, model_name=model)
    face_enroll(actor=SYSTEM, gallery=gallery, subject_reference="y", image=photos.photo("Jean_Chretien", 0))
    assert cohorts.cohorts_stale(agency=cast.agency, model_name=model)
    assert cohorts.agency_cohorts_maintain(agency=cast.agency, model_name=model) == 5
    for face in Face.objects.filter(agency=cast.agency):
        _assert_current(face)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_an_erasure_refreshes_the_agencys_cohorts_on_the_maintenance_queue(cast, celery_worker) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    names = enroll_people(gallery, count=3)
    cohorts.agency_cohorts_refresh(agency=cast.agency, model_name=pipeline.MODEL_NAME)
    before = CohortState.objects.get(agency=cast.agency).refreshed_at
    subject = Face.objects.filter(agency=cast.agency, subject__reference=names[0]).first().subject
    response = api_client(cast.admin).post(f"/api/v1/subjects/{subject.pk}/erasure/",
                                           {"order_reference": "CO-2026-77"})
    assert response.status_code == 201, response.content

    def refreshed() -> CohortState | None:
        state = CohortState.objects.get(agency=cast.agency)
        return state if state.refreshed_at > before else None

    assert wait_for(refreshed, timeout=60).faces == 4
    for face in Face.objects.filter(agency=cast.agency):
        _assert_current(face)  # the erased person is no longer anyone's cohort


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_bulk_enrollment_leaves_every_face_with_a_current_cohort(cast, celery_worker) -> None:
    from search.tests.test_bulk_enrollment import _archive, _finished, _upload

    gallery = GalleryFactory(agency=cast.agency)
    response = _upload(cast.admin, gallery, _archive())
    assert response.status_code in (201, 202), response.content
    _finished(cast.admin, response.json()["id"])
    state = wait_for(lambda: CohortState.objects.filter(agency=cast.agency).first(), timeout=60)
    faces = list(Face.objects.filter(agency=cast.agency))
    assert state.faces == len(faces) > 2
    for face in faces:  # the first faces enrolled had fewer neighbours: recomputed since
        _assert_current(face)


def _search_order(cast: Any, probe: bytes) -> list[dict[str, Any]]:
    """The candidates of a search run on the normalized score: a gallery this small is drawn on
    the cosine unless NORMALIZED_MIN_GALLERY is lowered, which reaches this process only (the
    worker's order on the cosine: search/tests/test_line_kind.py)."""
    case = assigned_case(cast.agency, cast.officer)
    search = searching.search_create(case=case, user=cast.officer, probe=probe)
    with override_settings(CASEBOUND={**settings.CASEBOUND, "NORMALIZED_MIN_GALLERY": 0}):
        searching.search_run(search_id=search.pk)
    body = api_client(cast.officer).get(f"/api/v1/searches/{search.pk}/").json()
    assert body["status"] == "done" and body["score_kind"] == "adaptive_s_norm_k50", body
    return [{**c, "search_id": body["id"]} for c in body["candidates"]]


def test_a_search_orders_its_candidates_by_the_normalized_score(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    enroll_people(gallery, count=5)
    cohorts.agency_cohorts_refresh(agency=cast.agency, model_name=pipeline.MODEL_NAME)
    probe = photos.photo("Colin_Powell", 2)
    raw = _search_order(cast, probe)
    assert raw[0]["subject"]["reference"] == "Colin_Powell"
    scores = [c["score"] for c in raw]
    assert scores == sorted(scores, reverse=True)
    # Make another person's face stand out from everyone it resembles (a face far from all
    # others): it must now come first, though its raw similarity is lower. (The other people
    # are below the line, so the face is picked from the gallery, not from the list shown.)
    distinct = Face.objects.filter(agency=cast.agency).exclude(
        subject__reference="Colin_Powell").order_by("pk").first()
    Face.objects.filter(pk=distinct.pk).update(cohort_mean=0.0, cohort_std=0.01)
    reordered = _search_order(cast, probe)
    assert reordered[0]["face"]["id"] == distinct.pk
    assert reordered[0]["similarity"] < max(c["similarity"] for c in reordered)
    assert [c["score"] for c in reordered] == sorted((c["score"] for c in reordered), reverse=True)
    _assert_scores_recomputed(cast, reordered)


def _assert_scores_recomputed(cast: Any, candidates: list[dict[str, Any]]) -> None:
    """Each stored score is the S-norm of its similarity, recomputed here from the faces and the
    probe as the worker read it (re-encoded when the search was created)."""
    with Search.objects.get(pk=candidates[0]["search_id"]).probe.open("rb") as handle:
        embedding = pipeline.analyze(pipeline.decode(handle.read())).embedding  # type: ignore[union-attr]
    faces = list(Face.objects.filter(agency=cast.agency))
    sims = np.array([float(np.dot(embedding, f.embedding)) for f in faces])
    subjects = np.array([f.subject_id for f in faces])
    probe_mean, probe_std = scoring.probe_cohort_stats(sims, subjects)
    by_id = {f.pk: i for i, f in enumerate(faces)}
    for candidate in candidates:
        i = by_id[candidate["face"]["id"]]
        expected = scoring.s_norm(sims[i], probe_mean[i], probe_std[i], faces[i].cohort_mean,
                                  faces[i].cohort_std)
        assert candidate["score"] == pytest.approx(float(expected), abs=2e-3)


@pytest.mark.django_db
def test_the_hourly_refresh_survives_an_agency_that_erased_every_face(cast) -> None:
    """An agency whose faces were all erased has nothing to compute: its state says so, and the
    agencies after it in the hourly loop still get theirs (a crash there stopped them all)."""
    from search.models import Subject
    from search.services.privacy import subject_erase
    from search.tasks import maintain_face_cohorts

    enroll_people(GalleryFactory(agency=cast.agency), count=2)
    cohorts.agency_cohorts_refresh(agency=cast.agency, model_name=pipeline.MODEL_NAME)
    for subject in Subject.objects.filter(agency=cast.agency):
        subject_erase(subject=subject, actor=cast.admin, order_reference="ORD-7")
    assert not Face.objects.filter(agency=cast.agency).exists()
    enroll_people(GalleryFactory(agency=cast.other_agency), count=2)  # after it in the loop

    maintain_face_cohorts()
    assert CohortState.objects.get(agency=cast.agency).faces == 0
    assert CohortState.objects.get(agency=cast.other_agency).faces == 4

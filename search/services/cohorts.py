"""Face cohorts for score normalization, kept current as galleries change.

Each face stores the mean and spread of its similarities to its nearest faces of *other* subjects
in its own agency (never another agency's: a tenant's scores must not depend on, or reveal,
another tenant's gallery). A new face gets its cohort when it is enrolled; its neighbours' cohorts
go stale as faces arrive and leave, so the whole agency is recomputed by the maintenance task once
enough has changed. A face without a cohort yet is scored with the agency's typical cohort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from agencies.tenancy.models import Agency
from portal.config import setting
from search.engine import scoring
from search.models import CohortState, Face

BLOCK = 1024  # faces per block of the agency-wide computation: a block x agency matrix at a time


@dataclass(frozen=True)
class Ranked:
    face: Face
    similarity: float
    score: float


def face_cohort_compute(*, face: Face) -> None:
    """Store a newly enrolled face's cohort, from its nearest faces of other subjects."""
    from search.selectors import cohort_similarities

    similarities = cohort_similarities(face=face, k=scoring.COHORT_SIZE)
    if not similarities:
        return  # the agency's first subject: no cohort until others arrive
    face.cohort_mean, face.cohort_std = scoring.top_k_stats(np.array(similarities))
    Face.objects.filter(pk=face.pk).update(cohort_mean=face.cohort_mean, cohort_std=face.cohort_std)


def agency_cohorts_refresh(*, agency: Agency, model_name: str) -> int:
    """Recompute the cohort of every live face of an agency for a recipe; returns the count."""
    started = timezone.now()  # faces enrolled while this runs count as changes for next time
    rows = list(Face.objects.for_agency(agency).filter(model_name=model_name)
                .values_list("pk", "subject_id", "embedding"))
    # No live face (all erased or opted out): nothing to compute, and numpy cannot shape none.
    stats = _cohort_stats(np.array([r[1] for r in rows]),
                          np.array([r[2] for r in rows], dtype=np.float32).reshape(len(rows), -1)
                          ) if rows else []
    faces = [Face(pk=row[0], cohort_mean=m, cohort_std=s) for row, (m, s) in zip(rows, stats, strict=True)]
    with transaction.atomic():
        Face.objects.bulk_update(faces, ["cohort_mean", "cohort_std"], batch_size=2000)
        known = [s for s in stats if s[0] is not None]
        CohortState.objects.update_or_create(agency=agency, model_name=model_name, defaults={
            "faces": len(rows), "refreshed_at": started,
            "typical_mean": float(np.median([m for m, _ in known])) if known else None,
            "typical_std": float(np.median([s for _, s in known])) if known else None})
    return len(rows)


def _cohort_stats(subjects: np.ndarray, embeddings: np.ndarray) -> list[tuple[float | None, float | None]]:
    """Each face's top-k statistics over the faces of other subjects, a block at a time."""
    stats: list[tuple[float | None, float | None]] = []
    k = scoring.COHORT_SIZE
    for start in range(0, len(embeddings), BLOCK):
        sims = embeddings[start:start + BLOCK] @ embeddings.T
        sims[subjects[start:start + BLOCK, None] == subjects[None, :]] = -np.inf
        for row in sims:
            others = row[np.isfinite(row)]
            stats.append(scoring.top_k_stats(others, k) if others.size else (None, None))
    return stats


def cohorts_changed(*, agency: Agency, model_name: str) -> int | None:
    """Faces enrolled or removed since the agency's cohorts were computed (None: never were)."""
    state = CohortState.objects.for_agency(agency).filter(model_name=model_name).first()
    if state is None:
        return None
    live = Face.objects.for_agency(agency).filter(model_name=model_name)
    added = live.filter(created_at__gte=state.refreshed_at).count()
    removed = max(state.faces + added - live.count(), 0)  # live now = before + added - removed
    return added + removed


def cohorts_stale(*, agency: Agency, model_name: str) -> bool:
    """Whether enough of the agency's gallery changed for its stored cohorts to mislead."""
    changed = cohorts_changed(agency=agency, model_name=model_name)
    if changed is None:
        return Face.objects.for_agency(agency).filter(model_name=model_name).exists()
    total = Face.objects.for_agency(agency).filter(model_name=model_name).count()
    return changed >= max(setting("COHORT_REFRESH_MIN_CHANGES"),
                          setting("COHORT_REFRESH_SHARE") * total)


def agency_cohorts_maintain(*, agency: Agency, model_name: str) -> int:
    """Recompute the agency's cohorts if they are stale; returns the faces recomputed."""
    if not cohorts_stale(agency=agency, model_name=model_name):
        return 0
    return agency_cohorts_refresh(agency=agency, model_name=model_name)


def agency_cohorts_maintain_by_id(*, agency_id: int) -> int:
    """`agency_cohorts_maintain` for the current recipe of an agency given by id (a task's)."""
    agency = Agency.objects.filter(pk=agency_id).first()
    if agency is None:
        return 0  # gone since the task was queued
    return agency_cohorts_maintain(agency=agency, model_name=agency.face_recipe)


def agencies_cohorts_maintain() -> list[str]:
    """Every agency whose cohorts are stale, recomputed (beat, in the platform's scope)."""
    return [agency.slug for agency in Agency.objects.all()
            if agency_cohorts_maintain_by_id(agency_id=agency.pk)]


def cohorts_refresh_later(agency_ids: set[int]) -> None:
    """Once the transaction commits, let the maintenance queue decide whether to recompute."""
    from search.tasks import refresh_face_cohorts

    for agency_id in agency_ids:
        transaction.on_commit(lambda a=agency_id: refresh_face_cohorts.delay(a))  # type: ignore[misc]


def faces_rank(*, agency: Agency, faces: list[Face], model_name: str,
               prior: tuple[float, float]) -> list[Ranked]:
    """The vector search's faces (each with `distance`) ordered by the normalized score.

    Every face gets a score. Missing statistics are filled from the nearest thing known: a face
    without a cohort takes the agency's typical one, else the probe's (T-norm); a probe without
    one (every candidate is the same person) takes the face's; where neither side has any (one
    subject in an agency never computed), `prior`, the calibration gallery's typical cohort,
    stands in for both: the estimate is then the calibration's, not this gallery's.
    """
    if not faces:
        return []
    similarities = np.array([1.0 - f.distance for f in faces])  # type: ignore[attr-defined]
    subjects = np.array([f.subject_id for f in faces])
    probe_mean, probe_std = scoring.probe_cohort_stats(similarities, subjects)
    state = CohortState.objects.for_agency(agency).filter(model_name=model_name).first()
    face_mean, face_std = scoring.fill_missing(
        np.array([np.nan if f.cohort_mean is None else f.cohort_mean for f in faces]),
        np.array([np.nan if f.cohort_std is None else f.cohort_std for f in faces]),
        state.typical_mean if state else None, state.typical_std if state else None,
        probe_mean, probe_std)
    face_mean, face_std = np.where(np.isnan(face_mean), prior[0], face_mean), \
        np.where(np.isnan(face_std), prior[1], face_std)
    probe_mean = np.where(np.isnan(probe_mean), face_mean, probe_mean)  # a one-subject search
    probe_std = np.where(np.isnan(probe_std), face_std, probe_std)
    scores = scoring.s_norm(similarities, probe_mean, probe_std, face_mean, face_std)
    ranked = [Ranked(f, float(s), float(z)) for f, s, z in zip(faces, similarities, scores, strict=True)]
    return sorted(ranked, key=lambda r: (-r.score, -r.similarity))

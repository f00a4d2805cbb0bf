"""Moving an agency's faces to another recipe while its searches keep running on the old one.

A job embeds every face of the agency under the new recipe into `Face.embedding_next` (searches
never read it), a batch per transaction, so a killed worker's redelivered task resumes where the
last batch committed. Faces enrolled meanwhile get their new vector at enrollment. The switch is
one transaction that holds the agency row: it embeds any face still without a new vector, moves
every vector, the faces' `model_name` and the agency's recipe at once; searches and enrollments
hold the same row (shared) while they store, so none mixes recipes (docs/architecture.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from agencies.audit.models import AuditAction, AuditOutcome
from agencies.audit.trail import audit_record
from agencies.tenancy.models import Agency, Role
from agencies.tenancy.permissions import ensure_acts_for
from portal.config import setting
from portal.errors import ServiceError
from portal.recipes import Recipe, registered
from portal.weights import recipe_installed
from search.engine import calibration, pipeline
from search.models import (
    ACTIVE_REEMBED,
    CohortState,
    Face,
    ReembedJob,
    ReembedStatus,
    Suppression,
)
from search.services.cohorts import agency_cohorts_refresh, cohorts_stale

logger = logging.getLogger(__name__)
LOCK_CLASS = 0x5245  # the first key of the jobs' advisory locks ("RE"); the job id is the second
TRANSIENT = (OperationalError, InterfaceError)


def recipe_of(agency_id: int) -> str:
    """The agency's recipe as the database holds it now (not a cached Agency object's)."""
    return str(Agency.objects.values_list("face_recipe", flat=True).get(pk=agency_id))


def recipe_held(agency_id: int) -> str:
    """The agency's recipe, with its row share-locked until the transaction ends: a switch waits
    for whoever holds it, and whoever comes after a switch sees the new recipe."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT face_recipe FROM agencies_agency WHERE id = %s FOR SHARE",
                       [agency_id])
        row = cursor.fetchone()
    if row is None:
        raise ServiceError("not_found", "No such agency.", status=404)
    return str(row[0])


def reembed_start(*, agency: Agency, recipe_name: str, actor: Any,
                  enqueue: bool = True) -> ReembedJob:
    """Start the move of the agency's faces to a registered recipe (agency admin, or SYSTEM);
    queued for the bulk worker, or (`enqueue=False`) for the caller to run with reembed_run."""
    ensure_acts_for(actor, agency, Role.AGENCY_ADMIN, code="agency_admin_required",
                    message="Only the agency admin changes the agency's face model.")
    recipe = _startable(agency, recipe_name)
    faces = Face.all_objects.for_agency(agency)
    try:
        with transaction.atomic():
            job = ReembedJob.objects.create(
                agency=agency, from_recipe=recipe_of(agency.pk), to_recipe=recipe.name,
                total=faces.count(), started_by=actor if getattr(actor, "pk", None) else None)
            audit_record(action=AuditAction.REEMBED_STARTED, agency=agency, actor=actor, obj=job,
                         actor_name="" if getattr(actor, "pk", None) else "system",
                         details={"from": job.from_recipe, "to": job.to_recipe,
                                  "faces": job.total})
            if enqueue:
                transaction.on_commit(lambda: _enqueue(job))
    except IntegrityError:  # reembed_one_active_per_agency
        raise ServiceError("reembed_running", "A re-embedding job is already running for your "
                           "agency. Wait for it to finish.", status=409) from None
    return job


def _startable(agency: Agency, name: str) -> Recipe:
    recipes = registered()
    if name not in recipes:
        raise ServiceError("unknown_recipe", f"No recipe is named {name!r}. Registered: "
                           f"{', '.join(recipes)}.")
    recipe = recipes[name]
    if name == recipe_of(agency.pk):
        raise ServiceError("same_recipe", f"Your agency already uses {name}.", status=409)
    if not recipe_installed(recipe):
        raise ServiceError("weights_missing", f"The weight files of {name} are not installed: "
                           f"{', '.join(recipe.weights)} under $DEEPFACE_HOME/.deepface/weights/.",
                           status=409)
    _ensure_calibrated(recipe)
    _ensure_sources(agency, recipe)
    _ensure_suppressions(recipe)
    return recipe


def _ensure_calibrated(recipe: Recipe) -> None:
    """Refuse a recipe without both calibration tables: after the switch no search could draw the
    agency's line (every one would fail calibration_missing), so the move would stop the agency."""
    try:
        calibration.tables_for(setting("CALIBRATION_DIR"), recipe.name)
    except calibration.CalibrationMissing:
        raise ServiceError("calibration_missing", f"{recipe.name} has no score calibration, so no "
                           "search could draw your agency's line after the move. The operator "
                           f"runs `manage.py calibrate --recipe \"{recipe.name}\" --images LFW_DIR`"
                           " first (docs/benchmarks.md, Calibration).", status=409) from None


def _ensure_sources(agency: Agency, recipe: Recipe) -> None:
    if recipe.embeds_stored_chip:
        return
    missing = Face.all_objects.for_agency(agency).filter(source_image="").count()
    if missing:
        raise ServiceError("source_photos_missing", f"{missing} face(s) were enrolled before "
                           f"photos were kept, and {recipe.name} cannot use their 150x150 chip. "
                           "Enroll those photos again first.", status=409)


def _ensure_suppressions(recipe: Recipe) -> None:
    """An opt-out kept only vectors: a recipe without one for every opt-out would let an
    opted-out face be enrolled again, so it cannot become an agency's recipe."""
    uncovered = (Suppression.objects.values("request").distinct()
                 .exclude(request__in=Suppression.objects.filter(model_name=recipe.name)
                          .values("request")).count())
    if uncovered:
        # No count: opt-outs are platform-wide, and an agency admin reads this message.
        raise ServiceError("suppressions_missing", f"Some opt-outs have no suppression under "
                           f"{recipe.name} (they were decided before it was registered), so it "
                           "cannot be used yet. Ask the platform operator.", status=409)


def _enqueue(job: ReembedJob) -> None:
    from search.tasks import run_reembed

    run_reembed.delay(job.pk, job.agency_id)


def _unfinished() -> Any:
    """Jobs with work left: not switched yet, or switched without their follow-up."""
    return ReembedJob.objects.filter(
        Q(status__in=ACTIVE_REEMBED) | Q(status=ReembedStatus.DONE, followed_up_at__isnull=True))


def reembed_run(*, job_id: int, on_batch: Callable[[ReembedJob], None] | None = None) -> None:
    """Run (or resume) a job to its switch and the switch's follow-up; a no-op when both are done
    or another worker runs it (both under the job's lock, so never twice at once)."""
    job = _unfinished().filter(pk=job_id).first()
    if job is None or not _try_lock(job):
        return
    try:
        if job.status in ACTIVE_REEMBED:
            _move(job, on_batch)
        _follow_up(job)  # a transient error here is retried by the task, and by the sweeper
    finally:
        _unlock(job)


def _move(job: ReembedJob, on_batch: Callable[[ReembedJob], None] | None) -> None:
    try:
        ReembedJob.objects.filter(pk=job.pk, status=ReembedStatus.QUEUED).update(
            status=ReembedStatus.RUNNING, started_at=timezone.now())
        recipe = registered()[job.to_recipe]
        while _embed_batch(job, recipe, int(setting("REEMBED_BATCH"))):
            if on_batch:
                on_batch(job)
        _switch(job, recipe)
    except ServiceError as exc:
        reembed_fail(job=job, message=exc.message)
    except TRANSIENT:
        raise  # the task retries, and the job resumes from its last committed batch
    except Exception as exc:
        logger.exception("re-embedding job %s failed", job.pk)
        reembed_fail(job=job, message=f"Internal error ({type(exc).__name__}); the agency keeps "
                     f"{job.from_recipe}. Start the job again; if it fails again, tell the operator.")


def reembed_jobs_orphaned() -> list[tuple[int, int]]:
    """(job id, agency id) of jobs with work left that no worker runs: running ones (the advisory
    lock of a killed worker's session is gone with it) and switched ones whose follow-up failed
    or was killed. Called by the minute sweeper, which enqueues them again (the broker would
    redeliver the message only after its visibility timeout, an hour; the daily graph job and
    the hourly cohort job would catch up later still)."""
    orphaned = []
    for job in _unfinished().exclude(status=ReembedStatus.QUEUED):
        if _try_lock(job):
            _unlock(job)
            orphaned.append((job.pk, job.agency_id))
    return orphaned


def _try_lock(job: ReembedJob) -> bool:
    # A session lock: a redelivered message finds the job's first run still holding it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, job.pk])
        return bool(cursor.fetchone()[0])


def _unlock(job: ReembedJob) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, job.pk])


def _pending(job: ReembedJob) -> Any:
    return Face.all_objects.for_agency(job.agency).filter(embedding_next__isnull=True)


def _embed_batch(job: ReembedJob, recipe: Recipe, size: int) -> int:
    """Embed up to `size` faces still without a new vector; commit them with the job's progress."""
    faces = list(_pending(job).order_by("pk")[:size])
    vectors = [(face.pk, _vector(face, recipe)) for face in faces]  # the model, outside any lock
    with transaction.atomic():
        for pk, vector in vectors:
            Face.all_objects.filter(pk=pk, embedding_next__isnull=True).update(embedding_next=vector)
        done = Face.all_objects.for_agency(job.agency).filter(embedding_next__isnull=False).count()
        total = Face.all_objects.for_agency(job.agency).count()
        ReembedJob.objects.filter(pk=job.pk).update(done=done, total=total)
    job.done, job.total = done, total
    return len(faces)


def _vector(face: Face, recipe: Recipe) -> list[float]:
    with face.image.open("rb") as handle:
        chip = pipeline.decode(handle.read())
    source = None
    if not recipe.embeds_stored_chip and face.source_image:
        with face.source_image.open("rb") as handle:
            source = pipeline.decode(handle.read())
    return pipeline.embed_for(recipe, chip, source).tolist()  # type: ignore[no-any-return]


def _switch(job: ReembedJob, recipe: Recipe) -> None:
    """Move the agency to the new recipe in one transaction; the old vectors are gone with it."""
    with transaction.atomic():
        # Waits for storing searches (FOR SHARE). NO KEY: a plain FOR UPDATE would also block the
        # foreign-key checks of every row written for the agency (audit events, searches) and
        # deadlock with an audited read holding the agency's audit chain (benchmark_reembed).
        Agency.objects.select_for_update(no_key=True).get(pk=job.agency_id)
        for face in _pending(job):  # enrolled after the last batch, before this lock
            Face.all_objects.filter(pk=face.pk).update(embedding_next=_vector(face, recipe))
        faces = Face.all_objects.for_agency(job.agency)
        # Cohort statistics belong to the old vectors: none until they are computed again below.
        faces.update(embedding=F("embedding_next"), embedding_next=None, model_name=recipe.name,
                     cohort_mean=None, cohort_std=None)
        # And no state of an earlier stay on a recipe: "never computed" makes the hourly task
        # recompute them if the refresh after this switch does not happen.
        CohortState.objects.for_agency(job.agency).delete()
        Agency.objects.filter(pk=job.agency_id).update(face_recipe=recipe.name)
        total = faces.count()
        ReembedJob.objects.filter(pk=job.pk).update(status=ReembedStatus.DONE, done=total,
                                                    total=total, finished_at=timezone.now())
        audit_record(action=AuditAction.REEMBED_FINISHED, agency=job.agency, obj=job,
                     actor_name="system", details={"from": job.from_recipe, "to": recipe.name,
                                                   "faces": total})


def _follow_up(job: ReembedJob) -> None:
    """After a switch: the agency's HNSW graph for the new recipe (or none: a small agency) and
    its cohorts; each step is skipped when already done, so a run again finishes what is left."""
    from search.engine import vector_index  # reads models; imported late like the selectors

    job.refresh_from_db()
    if job.status != ReembedStatus.DONE or job.followed_up_at is not None:
        return
    if recipe_of(job.agency_id) == job.to_recipe:  # else a later job moved on, and follows up
        if not vector_index.agency_index_ensure(job.agency, model_name=job.to_recipe) and \
                not vector_index.agency_index_current(job.agency_id, job.to_recipe):
            vector_index.agency_index_drop(job.agency_id)  # the old recipe's graph matches no row
        if cohorts_stale(agency=job.agency, model_name=job.to_recipe):
            agency_cohorts_refresh(agency=job.agency, model_name=job.to_recipe)
    ReembedJob.objects.filter(pk=job.pk).update(followed_up_at=timezone.now())


def reembed_fail(*, job: ReembedJob, message: str) -> None:
    """Stop a job: the agency keeps its recipe, and the half-made new vectors are cleared."""
    with transaction.atomic():
        Face.all_objects.for_agency(job.agency).filter(embedding_next__isnull=False) \
            .update(embedding_next=None)
        ReembedJob.objects.filter(pk=job.pk, status__in=ACTIVE_REEMBED).update(
            status=ReembedStatus.FAILED, error=message, finished_at=timezone.now())
        audit_record(action=AuditAction.REEMBED_FAILED, agency=job.agency, obj=job,
                     outcome=AuditOutcome.FAILURE, actor_name="system",
                     details={"to": job.to_recipe, "error": message[:300]})

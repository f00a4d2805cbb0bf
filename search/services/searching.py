"""Running a probe photo through the pipeline and storing ranked candidates.

A search row is the unit of work: created QUEUED in the request, claimed by a worker with a
conditional UPDATE (so a redelivered task is harmless), and finished once with a final status.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from agencies.audit.models import AuditAction, AuditOutcome
from agencies.audit.trail import audit_record
from agencies.billing.licensing import (
    ensure_license_allows_search,
    ensure_license_in_force,
    search_quota_lock,
)
from agencies.billing.metering import meter_search
from portal import logs, metrics
from portal.config import setting
from portal.errors import ServiceError
from portal.recipes import recipe_get
from portal.workers import live_workers, worker_identity
from search import selectors
from search.engine import calibration, pipeline
from search.engine.pipeline import Pick
from search.models import DEFAULT_TARGET_FMR, Band, Candidate, Case, Face, Search, SearchStage, SearchStatus
from search.selectors import policy_of
from search.services.cases import case_audit_details, ensure_case_searchable
from search.services.cohorts import Ranked, faces_rank
from search.services.files import jpeg_file
from search.services.reembed import recipe_held, recipe_of

logger = logging.getLogger(__name__)
# Database errors that pass: the search goes back to the queue and the task retries it.
TRANSIENT = (OperationalError, InterfaceError)
PROBE_MAX_SIDE = 2000  # keep enough detail for a reviewer, not the original file
NO_FACE_MESSAGE = ("No face was found in the probe photo. Try a photo where the face is frontal, "
                   "lit and at least about 80 pixels wide: a sharper frame of the same video, "
                   "or a crop around the person (not a thumbnail).")
WEAK_KEPT = 3  # when none passes the line, the best few are kept, marked weak, behind a click
Requeued = tuple[int, int, str]  # (search id, agency id, request id) of a search to enqueue again


def search_create(*, case: Case, user: Any, probe: bytes, face_index: int | None = None) -> Search:
    """Check the case and the photo, store the probe re-encoded, and queue the search.

    A refusal is audited with its reason; a search is audited with its case and justification.
    """
    try:
        ensure_license_allows_search(case.agency)
        ensure_case_searchable(case=case, user=user)
        rgb = pipeline.decode(probe)  # refuse a bad photo now, while the officer is still here
        jpeg = pipeline.encode_jpeg(rgb, max_side=PROBE_MAX_SIDE)
        return _search_queue(case=case, user=user, jpeg=jpeg, face_index=face_index)
    except ServiceError as refusal:
        _audit_refusal(case=case, user=user, obj=case, refusal=refusal)
        metrics.search_refused(code=refusal.code)
        raise


def search_another_face(*, search: Search, user: Any, face_index: int) -> Search:
    """A new search of another face of `search`'s probe, in its case: checked, audited and billed
    as any search. The stored probe is reused as it is (already re-encoded, no metadata)."""
    try:
        if not search.probe or search.probe_purged_at is not None:
            raise ServiceError("probe_purged", "The probe photo of this search has been deleted "
                               "under the retention policy. Upload the photo again in the case.",
                               status=410)
        if search.faces and not 0 <= face_index < len(search.faces):
            raise pipeline.FaceIndexOutOfRange(face_index, search.faces)
        ensure_license_allows_search(search.case.agency)
        ensure_case_searchable(case=search.case, user=user)
        with search.probe.open("rb") as handle:
            jpeg = handle.read()
        return _search_queue(case=search.case, user=user, jpeg=jpeg, face_index=face_index,
                             origin=search)
    except ServiceError as refusal:
        _audit_refusal(case=search.case, user=user, obj=search, refusal=refusal,
                       face_index=face_index)
        metrics.search_refused(code=refusal.code)  # as a refused new search is
        raise


def _search_queue(*, case: Case, user: Any, jpeg: bytes, face_index: int | None,
                  origin: Search | None = None) -> Search:
    from search.tasks import run_search

    with transaction.atomic():
        # Queued and running searches count against the quota, under the agency's lock: a
        # burst of requests cannot all pass the last unit of a refusing quota.
        search_quota_lock(case.agency)
        ensure_license_allows_search(case.agency, in_flight=_in_flight(case.agency).count())
        search = Search.objects.create(
            agency=case.agency, case=case, requested_by=user,
            policy=policy_of(case.agency).snapshot(), probe=jpeg_file(jpeg), face_index=face_index,
            request_id=logs.request_id.get() or "")
        details = case_audit_details(case, justification=case.justification)
        if face_index is not None:
            details["face_index"] = face_index
        if origin is not None:
            details["probe_of_search"] = origin.pk
        audit_record(action=AuditAction.SEARCH_RUN, agency=case.agency, actor=user, obj=search,
                     details=details)
        transaction.on_commit(lambda: run_search.delay(search.pk, search.agency_id))
    return search


def _in_flight(agency: Any) -> Any:
    """The agency's searches that are queued or running: not metered yet, but they will be."""
    return Search.objects.for_agency(agency).filter(
        status__in=(SearchStatus.QUEUED, SearchStatus.RUNNING))


def _audit_refusal(*, case: Case, user: Any, obj: Any, refusal: ServiceError, **extra: Any) -> None:
    audit_record(action=AuditAction.SEARCH_REFUSED, agency=case.agency, actor=user, obj=obj,
                 outcome=AuditOutcome.REFUSED,
                 details={**case_audit_details(case), "code": refusal.code,
                          "reason": refusal.message, **extra})


def search_results_viewed(*, search: Search, actor: Any) -> None:
    """Audit that someone saw a finished search's candidates."""
    if search.is_finished:
        audit_record(action=AuditAction.RESULTS_VIEWED, agency=search.agency, actor=actor,
                     obj=search, details=case_audit_details(search.case, status=search.status))


def _claim(search_id: int) -> Search | None:
    """Claim a queued search if it is still authorized now; fail it with the reason if not.

    A search may wait in the queue while the license is suspended, the case closes or expires,
    the officer is taken off the case or the quota runs out: the request's checks run again here.
    """
    limit = setting("SEARCH_MAX_ATTEMPTS")
    queued = Search.objects.filter(pk=search_id, status=SearchStatus.QUEUED, attempts__lt=limit)
    worker = worker_identity()  # its heartbeat tells the recovery whether this run still lives
    with transaction.atomic():
        search = queued.select_related("agency", "case", "requested_by").first()
        if search is None:
            return None
        search_quota_lock(search.agency)  # one claim at a time counts the running searches
        running = _in_flight(search.agency).filter(status=SearchStatus.RUNNING).count()
        if not queued.update(status=SearchStatus.RUNNING, started_at=timezone.now(),
                             attempts=F("attempts") + 1, claimed_by=worker):
            return None
        search.refresh_from_db(fields=["status", "started_at", "attempts", "claimed_by"])
        try:
            ensure_license_allows_search(search.agency, in_flight=running)
            ensure_case_searchable(case=search.case, user=search.requested_by)
        except ServiceError as refusal:
            _finish(search, SearchStatus.FAILED, error_code=refusal.code, error=refusal.message)
            _audit_refusal(case=search.case, user=search.requested_by, obj=search,
                           refusal=refusal, search_id=search.pk, when="queued search claimed")
            logger.info("search %s refused when claimed: %s", search.pk, refusal.code)
            return None  # not metered: nothing ran
    return search


def _finish(search: Search, status: str, **fields: Any) -> None:
    search.status = status
    search.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(search, name, value)
    # Only what finishing changes: a concurrent sweeper's bookkeeping is not overwritten.
    search.save(update_fields=["status", "finished_at", *fields])
    transaction.on_commit(lambda: _finished(search))


def _finished(search: Search) -> None:
    """Counted and logged once the final status is committed (a rolled-back run counts nothing)."""
    metrics.search_finished(status=search.status, code=search.error_code, timings=search.timings)
    logger.info("search finished", extra={"search_id": search.pk, "status": search.status,
                                          "code": search.error_code, "timings": search.timings})


def search_execute(*, search_id: int) -> None:
    """Run a queued search to a final status, deciding what each failure becomes.

    A transient database error hands the search back and propagates, for the task to retry (the
    sweeper gives it back later if the database is still away); a refusal fails it with its
    reason; anything else fails it as an internal error, logged with the search id.
    """
    try:
        search_run(search_id=search_id)
    except TRANSIENT:
        with contextlib.suppress(*TRANSIENT):
            search_release(search_id=search_id)
        raise
    except ServiceError as exc:
        search_fail(search_id=search_id, code=exc.code, message=exc.message)
    except Exception:
        logger.exception("search %s failed", search_id)
        search_fail(search_id=search_id, code="pipeline_error", message=(
            "The search could not be completed because of an internal error. Try again; if it "
            f"fails again, tell your administrator (search id {search_id})."))


def search_run(*, search_id: int) -> None:
    """Claim a queued search and run it to a final status; a no-op if it is not queued."""
    search = _claim(search_id)
    if search is None:
        logger.info("search %s is not (or no longer) to run; nothing to do", search_id)
        return
    _stage(search, SearchStage.FINDING_FACES)
    started = time.perf_counter()
    with search.probe.open("rb") as handle:
        rgb = pipeline.decode(handle.read())
    decode_seconds = time.perf_counter() - started
    for _ in range(2):  # once more if the agency moved to another recipe while this run worked
        recipe = recipe_get(recipe_of(search.agency_id))
        try:
            face = pipeline.analyze(rgb, pick=Pick.LARGEST, recipe=recipe,
                                    face_index=search.face_index,
                                    on_stage=lambda stage: _stage(search, stage))
        except pipeline.FaceIndexOutOfRange as wrong:
            with transaction.atomic():
                if _still_ours(search):  # not metered: no face was searched
                    _finish(search, SearchStatus.FAILED, faces_found=len(wrong.boxes),
                            faces=wrong.boxes, error_code=wrong.code, error=wrong.message)
            return
        if face is None:
            with transaction.atomic():
                if _still_ours(search):  # else the run that claimed it since finishes it, once
                    _finish(search, SearchStatus.NO_FACE, faces_found=0, error_code="no_face",
                            error=NO_FACE_MESSAGE, timings={"decode": decode_seconds})
                    meter_search(search)
            return
        _stage(search, SearchStage.SEARCHING)
        if _store_candidates(search, face, decode_seconds, recipe.name):
            return
    search_fail(search_id=search.pk, code="recipe_changed", message="Your agency's face model "
                "changed twice while this search ran. Run the search again.")


def _stage(search: Search, stage: str) -> None:
    """Record the stage at once, in its own statement (autocommit), for the page and the API to
    see while the worker goes on; only while this run's claim still holds."""
    Search.objects.filter(pk=search.pk, status=SearchStatus.RUNNING,
                          attempts=search.attempts).update(stage=stage)
    search.stage = stage


def _recipe_holds(search: Search, recipe: str) -> bool:
    """Lock the agency row (shared) and check its recipe is the one the probe was embedded with:
    a re-embedding switch then waits for this search's results, or has already committed."""
    current = recipe_held(search.agency_id)
    if current != recipe:
        logger.info("search %s: the agency moved from %s to %s meanwhile; running it again",
                    search.pk, recipe, current)
    return current == recipe


def _faces_of_another_recipe(search: Search, recipe: str) -> bool:
    """Faces the agency's recipe cannot see: only a hand-made change (the database owner, not a
    re-embedding job) leaves them; an empty result must not then read as "no match"."""
    return Face.objects.for_agency(search.agency).exclude(model_name=recipe).exists()


def score_kind_for(table: calibration.Calibration, gallery_size: int) -> str:
    """The score the line is drawn on in a gallery of this size: the normalized one from the size
    its table was validated for (CASEBOUND_NORMALIZED_MIN_GALLERY overrides), the raw cosine below.

    In a small gallery a cohort of 50 is most of it, so a stranger's normalized best inflates and
    the table's N_eff is an extrapolation: true matches fell below the line while nothing was
    safer. The cosine's table bounds N_eff by N there, which errs strict.
    """
    least = setting("NORMALIZED_MIN_GALLERY")
    least = table.min_gallery if least is None else int(least)
    return (calibration.SCORE_KIND_NORMALIZED if gallery_size >= least
            else calibration.SCORE_KIND_COSINE)


def calibrated_score(ranked: Ranked, score_kind: str) -> float:
    """The score the agency's line is drawn on, of a re-ranked face, under the kind chosen.

    The one place that names it: the table of `score_kind` is fitted on the same score, and the
    candidates are ordered by it, so a face above the line never sits below one under it.
    """
    return ranked.similarity if score_kind == calibration.SCORE_KIND_COSINE else ranked.score


def calibration_tables(recipe: str) -> dict[str, calibration.Calibration]:
    """The recipe's shipped calibration of each score kind (a search may need either, so both are
    required before any work, as readyz requires them); a search without one fails with the reason."""
    try:
        return calibration.tables_for(setting("CALIBRATION_DIR"), recipe)
    except calibration.CalibrationMissing as missing:
        logger.error("%s", missing)
        raise ServiceError("calibration_missing", "The search cannot draw your agency's line: the "
                           "score calibration of the face model is missing. Tell your "
                           "administrator (readyz reports it).", status=503) from None


def _scored(faces: list[Ranked], table: calibration.Calibration, target: float,
            gallery_size: int) -> list[tuple[Ranked, float, str]]:
    """(face, estimate, band) above the line, or the best few below it when none passes; the
    faces come ordered by the table's score."""
    scored = []
    for face in faces:
        estimate = table.false_match_rate(calibrated_score(face, table.score_kind), gallery_size)
        scored.append((face, estimate, calibration.band(estimate, target)))
    above = [entry for entry in scored if entry[2] != Band.WEAK]
    return above or scored[:WEAK_KEPT]


def _store_candidates(search: Search, face: pipeline.FaceResult, decode_seconds: float,
                      recipe: str) -> bool:
    """Rank and store; False (nothing stored) when the agency's recipe changed meanwhile."""
    policy = search.policy or policy_of(search.agency).snapshot()
    # A search queued before the policy took a target (its snapshot has the old threshold) gets
    # the default target.
    target = float(policy.get("target_false_match_rate", DEFAULT_TARGET_FMR))
    tables = calibration_tables(recipe)
    normalized = tables[calibration.SCORE_KIND_NORMALIZED]
    started = time.perf_counter()
    shown_at_most = int(policy["max_candidates"])
    # The vector search ranks by raw similarity; a wider set is then ordered by the normalized
    # score (search/services/cohorts.py), so a face close to everyone no longer heads the list.
    nearest = selectors.nearest_faces(agency=search.agency, embedding=face.embedding,
                                      model_name=recipe,
                                      limit=max(shown_at_most, int(setting("RERANK_CANDIDATES"))))
    ranked = faces_rank(agency=search.agency, faces=nearest, model_name=recipe,
                        prior=normalized.cohort_prior)
    with transaction.atomic():  # a connection lost here is closed by atomic, so the hand-back works
        gallery_size = selectors.gallery_size_of(agency=search.agency, model_name=recipe)
    table = tables[score_kind_for(normalized, gallery_size)]
    # Shown: the best by the score the line is drawn on (the vector search's top is by cosine).
    ranked.sort(key=lambda r: -calibrated_score(r, table.score_kind))
    query_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with transaction.atomic():
        if not _recipe_holds(search, recipe):
            return False
        if not nearest and _faces_of_another_recipe(search, recipe):
            _finish(search, SearchStatus.FAILED, error_code="recipe_mismatch", error=(
                "Your agency's faces were made by another face model than the one it is set to "
                "use, so none could be compared. Tell the operator; the search was not billed."))
            return True
        if not _still_ours(search) or not _still_authorized(search):
            return True
        Candidate.objects.bulk_create(
            Candidate(agency=search.agency, search=search, face=r.face, subject=r.face.subject,
                      gallery=r.face.gallery, rank=rank, similarity=round(r.similarity, 4),
                      score=round(r.score, 4),
                      band=band, false_match_estimate=float(f"{estimate:.4g}"))
            for rank, (r, estimate, band) in enumerate(
                _scored(ranked[:shown_at_most], table, target, gallery_size), start=1))
        timings = {"decode": decode_seconds, **face.timings, "query": query_seconds,
                   "store": time.perf_counter() - started}
        _finish(search, SearchStatus.DONE, stage=SearchStage.DONE, faces_found=face.faces_found,
                probe_box=face.box, faces=face.boxes, face_index=face.face_index,
                probe_face=jpeg_file(pipeline.encode_jpeg(face.chip)),
                model_name=recipe, threshold=round(table.threshold(target, gallery_size), 4),
                target_false_match_rate=target, gallery_size=gallery_size,
                score_kind=table.score_kind,
                timings={k: round(v, 4) for k, v in timings.items()})
        meter_search(search)  # billed once, even if this task runs again
    return True


def _still_authorized(search: Search) -> bool:
    """Re-check, with the case row locked until the results commit, what may have ended while the
    model ran: the license, the case, the account. If it did, fail the search as the API would
    refuse it now and store nothing (the quota was settled when the search was claimed)."""
    case = Case.objects.select_for_update().get(pk=search.case_id)
    try:
        ensure_license_in_force(search.agency)
        ensure_case_searchable(case=case, user=search.requested_by)
    except ServiceError as refusal:
        _finish(search, SearchStatus.FAILED, error_code=refusal.code, error=refusal.message)
        _audit_refusal(case=case, user=search.requested_by, obj=search, refusal=refusal,
                       search_id=search.pk, when="authorization ended while the search ran")
        return False
    return True


def _still_ours(search: Search) -> bool:
    """Lock the row and check that this run's claim still holds.

    A run slower than the stale limit is given back by the sweeper and claimed again; the first
    run must then drop its results, or the search would be stored (and billed) twice.
    """
    current = Search.objects.select_for_update().only("status", "attempts").get(pk=search.pk)
    if current.status == SearchStatus.RUNNING and current.attempts == search.attempts:
        return True
    logger.warning("search %s was claimed again while this run worked; dropping this run",
                   search.pk)
    return False


def _held_here(search_id: int) -> Any:
    """The search, while it runs under this process's claim (not given to another worker)."""
    return Search.objects.filter(pk=search_id, status=SearchStatus.RUNNING,
                                 claimed_by=worker_identity())


def search_fail(*, search_id: int, code: str, message: str) -> None:
    """Mark this process's running search failed, with a reason an officer can read.

    Only while this process's claim holds: if the search was given back meanwhile and another
    worker runs it now, this run's failure is not that run's.
    """
    search = _held_here(search_id).first()
    if search is not None:
        _finish(search, SearchStatus.FAILED, error_code=code, error=message)


def search_release(*, search_id: int) -> None:
    """Put a running search back in the queue after a transient failure, while this process's
    claim holds (a search given to another worker meanwhile is that worker's)."""
    _held_here(search_id).update(status=SearchStatus.QUEUED, stage=SearchStage.QUEUED,
                                 claimed_by="")


def searches_requeue_stale() -> list[Requeued]:
    """Give back stale searches whose worker is gone (or whose message was lost); fail the
    hopeless ones, and those a live worker has run past the run limit.

    A live worker's search is never run again, however old: two runs would compete for the same
    search (and a slow stage would stall the second one too). Returns (search id, agency id,
    request id) of those to enqueue again. Called by the periodic sweeper.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=setting("SEARCH_STALE_SECONDS"))
    running = Search.objects.filter(status=SearchStatus.RUNNING, started_at__lt=cutoff)
    claimers = set(running.exclude(claimed_by="").values_list("claimed_by", flat=True))
    alive = live_workers(claimers)
    limit = int(setting("SEARCH_RUN_LIMIT_SECONDS"))
    _fail_overrun(running.filter(claimed_by__in=alive,
                                 started_at__lt=now - timedelta(seconds=limit)), limit)
    _give_back(running.exclude(claimed_by__in=alive))
    queued = Search.objects.filter(status=SearchStatus.QUEUED, created_at__lt=cutoff)
    return list(queued.values_list("pk", "agency_id", "request_id"))


def searches_recover_orphans() -> list[Requeued]:
    """Give back the running searches of worker processes whose heartbeat has expired.

    Returns (search id, agency id, request id) of those to enqueue again. Run when a worker becomes ready
    and every few seconds by beat, so a crash costs seconds, not the stale limit. A run that was
    only slow to beat still works on; `_still_ours` then drops its results, so a search is
    stored and billed once whoever finishes it.
    """
    running = Search.objects.filter(status=SearchStatus.RUNNING).exclude(claimed_by="")
    claimers = set(running.values_list("claimed_by", flat=True))
    gone = claimers - live_workers(claimers)
    if not gone:
        return []
    return _give_back(running.filter(claimed_by__in=gone))


def _fail_overrun(running: Any, limit: int) -> None:
    """Fail these searches, which a live worker has run for longer than `limit` seconds: not
    billed, and not run again. The worker's run, if it ever gets there, drops its results
    (`_still_ours`)."""
    span = f"{limit // 60} minutes" if limit >= 120 else f"{limit} seconds"
    with transaction.atomic():
        ids = list(running.select_for_update(skip_locked=True).values_list("pk", flat=True))
        for pk in ids:
            Search.objects.filter(pk=pk).update(
                status=SearchStatus.FAILED, finished_at=timezone.now(), error_code="run_too_long",
                error=f"The search was stopped after running for more than {span} without "
                      "finishing (it usually takes seconds); it was not billed. Run it again; if "
                      f"it stops again, tell your administrator (search id {pk}).")
        if ids:
            logger.warning("searches %s ran longer than %s s on a live worker; failed", ids, limit)
            transaction.on_commit(
                lambda: metrics.searches_failed(code="run_too_long", count=len(ids)))


def _give_back(running: Any) -> list[Requeued]:
    """Queue these running searches again, or fail those interrupted too often; return the
    (id, agency id, request id) of those queued."""
    with transaction.atomic():
        rows = list(running.select_for_update(skip_locked=True).values_list(
            "pk", "agency_id", "request_id", "attempts"))
        hopeless = [pk for pk, _agency, _rid, attempts in rows
                    if attempts >= setting("SEARCH_MAX_ATTEMPTS")]
        Search.objects.filter(pk__in=hopeless).update(
            status=SearchStatus.FAILED, finished_at=timezone.now(), error_code="worker_lost",
            error="The search was interrupted several times and has stopped. Run it again; if "
                  "it keeps failing, tell your administrator.")
        transaction.on_commit(
            lambda: metrics.searches_failed(code="worker_lost", count=len(hopeless)))
        again = [(pk, agency, rid) for pk, agency, rid, _attempts in rows if pk not in hopeless]
        Search.objects.filter(pk__in=[pk for pk, _agency, _rid in again]).update(
            status=SearchStatus.QUEUED, stage=SearchStage.QUEUED, claimed_by="")
    return again

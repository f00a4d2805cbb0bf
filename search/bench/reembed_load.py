"""Re-embedding under load: an agency of N real faces moves to the other shipped recipe on the
bulk worker while officers search it over HTTP, and every finished search is then held to the
recipe it ran under.

The agency (`reembed-<N>`) is filled through the real bulk path (ZIPs uploaded to the API, enrolled
by the bulk worker) and kept, so a second run with the same N measures the re-embedding only, and
moves the agency back. The checks need no trust in the code under test: the bench snapshots both
recipes' vectors (the old ones before the job, the new ones after the switch), embeds each stored
probe itself under both recipes, and recomputes every candidate's cosine under the recipe its
search recorded. A search that mixed recipes (a probe of one against faces of the other) stores a
cosine that does not match; `discriminating` counts the candidates where a mix would have shown.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.utils import timezone
from numpy.typing import NDArray

from agencies.tenancy.models import Agency
from agencies.tenancy.permissions import SYSTEM
from portal.config import setting
from portal.recipes import BUILT_IN, recipe_get
from search.bench.load import Enrollment, Officer, Run, bulk_archive, bulk_enroll, officers_running
from search.bench.load_agency import StaffedAgency, people_with_photos, staffed_agency_ensure
from search.engine import pipeline, vector_index
from search.models import (
    Candidate,
    CohortState,
    EnrollmentItem,
    Face,
    ReembedJob,
    ReembedStatus,
    Search,
    SearchStatus,
)
from search.services.bulk import image_files
from search.services.cohorts import agency_cohorts_refresh
from search.services.reembed import recipe_of, reembed_start

# A stored cosine is rounded to 4 decimals; float32 sums differ in the 6th. The two shipped recipes
# differ by about 1e-2 on a pair, so a mix lands well outside this.
TOLERANCE = 1e-3
PHOTOS_PER_PROBE_PERSON = 4  # gallery photos of each probe's person, enrolled first
Vectors = dict[int, NDArray[np.float32]]


BenchAgency = StaffedAgency


def bench_agency_ensure(*, faces: int, officers: int) -> BenchAgency:
    """The agency of this size (made once, kept), its members, cases and gallery; new tokens."""
    return staffed_agency_ensure(slug=f"reembed-{faces}", name=f"Re-embedding benchmark, {faces} faces",
                                 officers=officers, gallery_name="Re-embedding benchmark bookings",
                                 source="LFW photos (benchmark)")


def photo_plan(root: Path, probes: int) -> tuple[list[Path], list[Path]]:
    """(probe photos, gallery photos in enrollment order): the last photo of each of the first
    `probes` people with 2+ photos is held out; their other photos are enrolled first."""
    people = people_with_photos(root, probes)
    held_out = [photos[-1] for photos in people]
    first = [photo for photos in people for photo in photos[:-1][:PHOTOS_PER_PROBE_PERSON]]
    taken = set(held_out) | set(first)
    return held_out, first + [p for p in image_files(root) if p not in taken]


def live_faces(agency: Agency) -> int:
    return Face.objects.for_agency(agency).count()


@dataclass
class Fill:
    faces_before: int
    faces_after: int = 0
    photos: int = 0
    seconds: float = 0.0
    error: str = ""

    def figures(self) -> dict[str, Any]:
        enrolled = self.faces_after - self.faces_before
        return {"reused": self.photos == 0, "faces_before": self.faces_before,
                "faces": self.faces_after, "photos_uploaded": self.photos,
                "seconds": round(self.seconds, 1), "error": self.error,
                "faces_per_s": round(enrolled / self.seconds, 2) if self.seconds else None}


def gallery_fill(bench: BenchAgency, photos: list[Path], root: Path, *, faces: int, base_url: str,
                 chunk: int, timeout: float, say: Callable[[str], None]) -> Fill:
    """Bulk-enroll the next photos of the plan over the API until the agency holds `faces` faces
    (a photo without a usable face enrolls nothing, so a chunk may fall short: go on)."""
    fill = Fill(faces_before=live_faces(bench.agency))
    while (have := live_faces(bench.agency)) < faces:
        tried = EnrollmentItem.objects.filter(batch__gallery=bench.gallery).count()
        todo = photos[tried:tried + min(faces - have, chunk)]
        if not todo:
            fill.error = f"{root} has no more photos: {have} faces from {tried} photos"
            break
        say(f"  enrolling {len(todo)} photos ({have}/{faces} faces)...")
        done: Enrollment = bulk_enroll(base_url, bench.admin_token, bench.gallery.pk,
                                       bulk_archive(todo, root), len(todo), timeout)
        fill.photos, fill.seconds = fill.photos + len(todo), fill.seconds + done.seconds
        if done.error:
            fill.error = done.error
            break
    fill.faces_after = live_faces(bench.agency)
    return fill


def other_recipe(current: str) -> str:
    """The shipped recipe the agency is not on (a run moves it there; the next run moves it back)."""
    return next(recipe.name for recipe in BUILT_IN if recipe.name != current)


def search_ready(agency: Agency) -> str:
    """The agency as searches find it in service: its graph (if large enough) and its cohorts
    computed for its recipe. Returns the recipe."""
    recipe = recipe_of(agency.pk)
    vector_index.agency_index_ensure(agency, model_name=recipe)
    state = CohortState.objects.for_agency(agency).filter(model_name=recipe).first()
    if state is None or state.faces != live_faces(agency):
        agency_cohorts_refresh(agency=agency, model_name=recipe)
    return recipe


def vectors_of(agency: Agency, recipe: str) -> Vectors:
    """Every face's vector under the recipe the agency holds now (the old ones go at the switch)."""
    rows = Face.all_objects.for_agency(agency).filter(model_name=recipe).values_list("pk", "embedding")
    return {pk: np.asarray(vector, dtype=np.float32) for pk, vector in rows}


KNOWN_MARGIN = 0.02  # raw cosine by which a known probe's own person leads everyone else


def probe_vector(photo: bytes, recipe: str, face_index: int | None = None) -> NDArray[np.float32] | None:
    """A probe's vector as a search computes it (same decode, detection, alignment, recipe)."""
    face = pipeline.analyze(pipeline.decode(photo), recipe=recipe_get(recipe), face_index=face_index)
    return None if face is None else face.embedding


def known_probes(photos: list[Path], recipe: str, vectors: Vectors,
                 people: dict[int, str]) -> list[Path]:
    """The held-out photos whose nearest enrolled face is their own person's by a clear margin:
    a search of one must list that person (the check of a search's candidates).

    Without the margin a borderline probe (measured at 10,000 faces: own person 0.9404, another
    0.9396) passes the raw test but can drop out of the three weak candidates a search keeps
    after re-ranking: a true miss of the model, not a mix of recipes, which the recomputed
    cosines check on their own.
    """
    ids = list(vectors)
    if not ids:
        return []
    matrix = np.stack([vectors[pk] for pk in ids])
    owners = np.array([people[pk] for pk in ids])
    known = []
    for path in photos:
        vector = probe_vector(path.read_bytes(), recipe)
        if vector is None:
            continue
        scores, own = matrix @ vector, owners == path.parent.name
        if own.any() and (~own).any() and scores[own].max() >= scores[~own].max() + KNOWN_MARGIN:
            known.append(path)
    return known


def people_of(agency: Agency) -> dict[int, str]:
    """Face id -> its subject's reference (the LFW person)."""
    return dict(Face.all_objects.for_agency(agency).values_list("pk", "subject__reference"))


@dataclass
class JobOutcome:
    job: ReembedJob
    wall_seconds: float
    rebuilt_seconds: float | None = None  # from the switch until the cohorts (and graph) are back
    index_expected: bool = False


def job_start(agency: Agency, recipe: str) -> ReembedJob:
    """The job as `manage.py reembed --queue` starts it: for the bulk worker."""
    return reembed_start(agency=agency, recipe_name=recipe, actor=SYSTEM)


def job_finished(job: ReembedJob, timeout: float) -> ReembedJob:
    """Wait until the job is done or failed (or the timeout passes); the job as it ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (ReembedStatus.DONE, ReembedStatus.FAILED):
            break
        time.sleep(0.2)
    return job


def rebuilt(job: ReembedJob, faces: int) -> bool:
    """Whether the follow-up after the switch is over: the new recipe's cohorts computed and, for
    an agency large enough for one, its HNSW graph current."""
    if faces >= int(setting("VECTOR_INDEX_MIN_FACES")) and \
            not vector_index.agency_index_current(job.agency_id, job.to_recipe):
        return False
    return CohortState.objects.filter(agency_id=job.agency_id, model_name=job.to_recipe).exists()


def rebuild_seconds(job: ReembedJob, faces: int, timeout: float) -> float | None:
    """Seconds from the switch (the job's finish) until `rebuilt`; None if not within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rebuilt(job, faces):
            assert job.finished_at is not None
            return (timezone.now() - job.finished_at).total_seconds()
        time.sleep(0.2)
    return None


@dataclass
class Timeline:
    """What the officers lived through: the phases' wall times and the job."""

    walls: dict[str, float] = field(default_factory=dict)
    outcome: JobOutcome | None = None


def run_phases(run: Run, officers: list[Officer], *, idle_seconds: float, after_seconds: float,
               start: Callable[[], ReembedJob], faces: int, timeout: float) -> Timeline:
    """`idle`, then `reembedding` from the job's start to its switch, `rebuilding` until the
    cohorts (and graph) are back, then `after`; the officers search throughout."""
    timeline = Timeline()
    with officers_running(run, officers):
        with _phase(run, timeline, "idle"):
            run.stop.wait(idle_seconds)
        with _phase(run, timeline, "reembedding"):
            started = time.perf_counter()
            job = job_finished(start(), timeout)
            timeline.outcome = JobOutcome(job, time.perf_counter() - started,
                                          index_expected=faces >= int(setting("VECTOR_INDEX_MIN_FACES")))
        if job.status == ReembedStatus.DONE:
            with _phase(run, timeline, "rebuilding"):
                timeline.outcome.rebuilt_seconds = rebuild_seconds(job, faces, timeout)
            with _phase(run, timeline, "after"):
                run.stop.wait(after_seconds)
    return timeline


class _phase:
    """Names the searches submitted meanwhile and records the phase's wall time."""

    def __init__(self, run: Run, timeline: Timeline, name: str) -> None:
        self.run, self.timeline, self.name = run, timeline, name

    def __enter__(self) -> None:
        self.run.phase, self.started = self.name, time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timeline.walls[self.name] = time.perf_counter() - self.started


def job_figures(outcome: JobOutcome) -> dict[str, Any]:
    """The job's own clock (started to switched, from its row) and what it cost the follow-up."""
    job = outcome.job
    seconds = (job.finished_at - job.started_at).total_seconds() \
        if job.finished_at and job.started_at else None
    rebuilt_s = outcome.rebuilt_seconds
    return {"job": job.pk, "from": job.from_recipe, "to": job.to_recipe, "status": job.status,
            "error": job.error, "faces": job.total, "seconds": _round(seconds, 1),
            "faces_per_s": round(job.total / seconds, 1) if seconds else None,
            "queued_s": _round(_between(job.created_at, job.started_at), 2),
            "wall_s": round(outcome.wall_seconds, 1),
            "rebuild_s": _round(rebuilt_s, 1),
            "graph": "rebuilt" if outcome.index_expected else
                     f"none (under CASEBOUND_VECTOR_INDEX_MIN_FACES = {setting('VECTOR_INDEX_MIN_FACES')})"}


def _between(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start and end else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


class ProbeVectors:
    """Each stored probe's vector under each recipe, computed here once per distinct photo."""

    def __init__(self, recipes: list[str]) -> None:
        self.recipes, self.cache = recipes, {}  # type: ignore[var-annotated]

    def of(self, search: Search) -> dict[str, NDArray[np.float32] | None]:
        with search.probe.open("rb") as handle:
            photo = handle.read()
        key = (hashlib.sha256(photo).hexdigest(), search.face_index)
        if key not in self.cache:
            self.cache[key] = {r: probe_vector(photo, r, search.face_index) for r in self.recipes}
        return self.cache[key]  # type: ignore[no-any-return]


@dataclass
class RecipeCheck:
    """Every finished search against the recipes' vectors and the switch's instant."""

    searches: dict[str, int] = field(default_factory=dict)  # per recipe
    candidates: int = 0
    discriminating: int = 0
    mixed: list[int] = field(default_factory=list)  # search ids whose cosines fit no single recipe
    out_of_order: list[int] = field(default_factory=list)  # old recipe after the switch, or new before

    def figures(self) -> dict[str, Any]:
        return {"searches": self.searches, "candidates": self.candidates,
                "discriminating": self.discriminating, "mixed": sorted(set(self.mixed)),
                "out_of_order": self.out_of_order}


def recipes_checked(search_ids: list[int], vectors: dict[str, Vectors], switched_at: datetime | None,
                    old: str) -> RecipeCheck:
    """Hold each done search to one recipe: its own, the agency's when it stored (before the
    switch the old one, after it the new one), and every candidate's cosine recomputed under it."""
    check, probes = RecipeCheck(), ProbeVectors(list(vectors))
    done = Search.objects.filter(pk__in=search_ids, status=SearchStatus.DONE).prefetch_related("candidates")
    for search in done.order_by("pk"):
        recipe = search.model_name
        check.searches[recipe] = check.searches.get(recipe, 0) + 1
        if recipe not in vectors or _out_of_order(search, recipe == old, switched_at):
            check.out_of_order.append(search.pk)
        if recipe in vectors:
            _candidates_checked(check, search, recipe, probes.of(search), vectors)
    return check


def _out_of_order(search: Search, on_old: bool, switched_at: datetime | None) -> bool:
    if switched_at is None or search.finished_at is None:
        return not on_old  # no switch: every search on the old recipe
    return (search.finished_at > switched_at) if on_old else (search.finished_at < switched_at)


def _candidates_checked(check: RecipeCheck, search: Search, recipe: str,
                        probe: dict[str, NDArray[np.float32] | None],
                        vectors: dict[str, Vectors]) -> None:
    for candidate in search.candidates.all():
        right = _cosine(probe[recipe], vectors[recipe].get(candidate.face_id or 0))
        if right is None:  # a face gone since, or a probe this bench finds no face in
            continue
        check.candidates += 1
        if abs(candidate.similarity - right) > TOLERANCE:
            check.mixed.append(search.pk)
        mixes = [_cosine(probe[p], vectors[f].get(candidate.face_id or 0))
                 for p in vectors for f in vectors if (p, f) != (recipe, recipe)]
        if all(m is not None and abs(candidate.similarity - m) > TOLERANCE for m in mixes):
            check.discriminating += 1


def _cosine(a: NDArray[np.float32] | None, b: NDArray[np.float32] | None) -> float | None:
    return None if a is None or b is None else pipeline.similarity(a, b)


def candidates_checked(persons: dict[int, str]) -> dict[str, Any]:
    """For each done search (id -> the probe's person): that person among its candidates, and
    at rank 1. A known probe's search without its person, or without candidates, is wrong."""
    done = set(Search.objects.filter(pk__in=persons, status=SearchStatus.DONE).values_list("pk", flat=True))
    listed: dict[int, list[str]] = {pk: [] for pk in done}
    for search_id, reference in Candidate.objects.filter(search_id__in=done) \
            .order_by("search_id", "rank").values_list("search_id", "subject__reference"):
        listed[search_id].append(reference)
    wrong = sorted(pk for pk, refs in listed.items() if persons[pk] not in refs)
    return {"checked": len(listed), "right": len(listed) - len(wrong), "wrong": wrong,
            "rank1": sum(1 for pk, refs in listed.items() if refs[:1] == [persons[pk]])}

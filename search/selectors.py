"""Reads for cases, galleries, searches and candidates; every one is scoped to an agency."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, TruncMonth
from django.http import Http404
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user, get_users_with_perms
from pgvector.django import CosineDistance, VectorField

from agencies.audit.bypass import platform_rows
from agencies.audit.models import AuditAction, AuditEvent, AuditOutcome
from agencies.tenancy.models import Agency, Membership, Role
from agencies.tenancy.selectors import has_role, membership_of
from search.models import (
    Band,
    Candidate,
    CandidateStatus,
    Case,
    CaseStatus,
    EnrollmentBatch,
    Face,
    Gallery,
    ItemStatus,
    OffenceCategory,
    OptOutConsultation,
    OptOutRequest,
    OptOutStatus,
    RetentionPolicy,
    Search,
    SearchPolicy,
    SearchStatus,
    Subject,
)


def _get_or_404(queryset: QuerySet[Any], pk: Any) -> Any:
    """One row of an already-scoped queryset; a missing and a foreign row look the same."""
    try:
        return queryset.get(pk=int(pk))
    except (ValueError, TypeError, queryset.model.DoesNotExist):
        raise Http404("Not found") from None


def policy_of(agency: Agency) -> SearchPolicy:
    """The agency's search policy; the defaults (unsaved) until its admin first changes them."""
    return SearchPolicy.objects.filter(agency=agency).first() or SearchPolicy(agency=agency)


def retention_of(agency: Agency) -> RetentionPolicy:
    """The agency's retention schedule; the defaults (unsaved) until its admin changes them."""
    return RetentionPolicy.objects.filter(agency=agency).first() or RetentionPolicy(agency=agency)


def case_list(*, agency: Agency | None) -> QuerySet[Case]:
    """The agency's cases, newest first."""
    return Case.objects.for_agency(agency).select_related("opened_by")


def case_get(*, agency: Agency | None, pk: Any) -> Case:
    """One case of the agency, or 404."""
    return _get_or_404(case_list(agency=agency), pk)


def cases_searchable_by(*, user: Any, agency: Agency | None) -> QuerySet[Case]:
    """The agency's cases this user is assigned to (holds `search_in_case` on)."""
    assigned = get_objects_for_user(user, "search.search_in_case", klass=Case, accept_global_perms=False)
    return case_list(agency=agency).filter(pk__in=assigned.values("pk"))


def cases_open_to(*, user: Any, agency: Agency | None) -> QuerySet[Case]:
    """The agency's cases whose searches and results `user` may see: the one rule of who sees what.

    An officer sees the cases they are assigned to; a supervisor those they supervise: the ones
    they approved or are assigned to (another supervisor puts them on a case, e.g. as second
    reviewer; the assignment is audited). An auditor sees every case, for oversight: each
    opening is audited. An agency admin manages galleries and sees no results.
    """
    membership = membership_of(user)
    cases = case_list(agency=agency)
    if membership is None or agency is None or membership.agency_id != agency.pk:
        return cases.none()
    if membership.role == Role.AUDITOR:
        return cases
    assigned = get_objects_for_user(user, "search.search_in_case", klass=Case,
                                    accept_global_perms=False).values("pk")
    if membership.role == Role.OFFICER:
        return cases.filter(pk__in=assigned)
    if membership.role == Role.SUPERVISOR:
        return cases.filter(Q(pk__in=assigned) | Q(decided_by=user))
    return cases.none()


def may_see_results(*, user: Any, case: Case) -> bool:
    """Whether `user` may see the searches, candidates and images of `case` (cases_open_to)."""
    return cases_open_to(user=user, agency=case.agency).filter(pk=case.pk).exists()


def review_queue(*, user: Any, agency: Agency | None) -> QuerySet[Candidate]:
    """What waits for this supervisor's confirmation: candidates someone else marked a possible
    lead, in cases the supervisor may see, that they have not reviewed, whose face is still shown."""
    if not has_role(user, Role.SUPERVISOR):
        return Candidate.objects.none()
    waiting = (CandidateStatus.AWAITING_SECOND, CandidateStatus.AWAITING_SUPERVISOR)
    return (Candidate.objects.for_agency(agency)
            .filter(status__in=waiting, search__case__in=cases_open_to(user=user, agency=agency),
                    face__removed_at__isnull=True)
            .exclude(reviews__reviewer=user)
            .select_related("search__case", "subject").order_by("search__created_at", "rank"))


def approvals_waiting(*, user: Any, agency: Agency | None) -> QuerySet[Case]:
    """Cases a supervisor may approve: pending, and not opened by them (nobody approves their own)."""
    if not has_role(user, Role.SUPERVISOR):
        return Case.objects.none()
    return case_list(agency=agency).filter(status=CaseStatus.PENDING).exclude(opened_by=user)


def searches_open_to(*, user: Any, agency: Agency | None) -> QuerySet[Search]:
    """The searches of the cases `user` may see, newest first."""
    return search_list(agency=agency).filter(case__in=cases_open_to(user=user, agency=agency))


def searches_listed(*, user: Any, agency: Agency | None) -> QuerySet[Search]:
    """The searches `user` may open (searches_open_to), each with its `candidate_count`."""
    return searches_open_to(user=user, agency=agency).annotate(
        candidate_count=_count_of(Candidate.objects.all(), search=OuterRef("pk")))


def agency_members(*, agency: Agency | None) -> QuerySet[Any]:
    """Active users of the agency; none for no agency (not the users without a membership)."""
    members = Membership.objects.for_agency(agency).values("user_id")
    return get_user_model().objects.filter(pk__in=members, is_active=True).order_by("username")


def users_assigned(*, case: Case) -> QuerySet[Any]:
    """Users who may search in the case."""
    users = get_users_with_perms(case, only_with_perms_in=["search_in_case"], with_superusers=False)
    return cast(QuerySet[Any], users).order_by("username")


def gallery_list(*, agency: Agency | None) -> QuerySet[Gallery]:
    """The agency's galleries."""
    return Gallery.objects.for_agency(agency)


def _count_of(rows: QuerySet[Any], **match: Any) -> Coalesce:
    """A correlated COUNT(*) subquery: counts of two relations joined together would multiply."""
    counted = rows.filter(**match).order_by().values(*match).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def gallery_list_with_counts(*, agency: Agency | None) -> QuerySet[Gallery]:
    """The agency's galleries, each with `subject_count` and `face_count` of live faces: a subject
    whose faces an opt-out removed is not counted, as it is not listed."""
    return gallery_list(agency=agency).annotate(
        subject_count=_count_of(_with_live_faces(Subject.objects.all()), gallery=OuterRef("pk")),
        face_count=_count_of(Face.objects.all(), gallery=OuterRef("pk")))


def gallery_get(*, agency: Agency | None, pk: Any) -> Gallery:
    """One gallery of the agency, or 404."""
    return _get_or_404(gallery_list(agency=agency), pk)


def _with_live_faces(subjects: QuerySet[Subject]) -> QuerySet[Subject]:
    # A subject whose faces an opt-out removed is hidden with them until restored or purged.
    return subjects.filter(Exists(Face.objects.filter(subject=OuterRef("pk"))))


def subject_list(*, gallery: Gallery) -> QuerySet[Subject]:
    """A gallery's subjects with their face counts."""
    return _with_live_faces(Subject.objects.for_agency(gallery.agency).filter(gallery=gallery))


def subjects_of(*, agency: Agency | None) -> QuerySet[Subject]:
    """The agency's subjects in every gallery."""
    return _with_live_faces(Subject.objects.for_agency(agency))


def cosine_distance(embedding: Any) -> CosineDistance:
    """The cosine distance of a row's vector to an embedding, the column cast to the embedding's
    dimension.

    The column has none (recipes differ), and Postgres refuses to compare vectors of different
    sizes: every query that ranks also filters on `model_name`, a cheaper condition that the
    planner checks first, so the cast only meets vectors of the embedding's recipe. The cast is
    the expression of the agency's HNSW graph, which the planner uses only when they match.
    """
    return CosineDistance(Cast("embedding", VectorField(dimensions=len(embedding))), embedding)


def faces_like(queryset: QuerySet[Face], embedding: Any, *, model_name: str,
               min_similarity: float) -> QuerySet[Face]:
    """The faces of `queryset` at least `min_similarity` like an embedding (same recipe only)."""
    return (queryset.filter(model_name=model_name)
            .annotate(distance=cosine_distance(embedding))
            .filter(distance__lte=1.0 - min_similarity))


def batch_get(*, agency: Agency | None, pk: Any) -> EnrollmentBatch:
    """One enrollment batch of the agency, or 404."""
    return _get_or_404(EnrollmentBatch.objects.for_agency(agency).select_related("gallery"), pk)


def batch_counts(batch: EnrollmentBatch) -> dict[str, int]:
    """How many items of a batch are in each state, for the progress bar."""
    counts = dict(batch.items.values_list("status").annotate(n=Count("pk")))
    return {status: counts.get(status, 0) for status in ItemStatus.values}


def face_get(*, agency: Agency | None, pk: Any) -> Face:
    """One enrolled face of the agency, or 404."""
    return _get_or_404(Face.objects.for_agency(agency), pk)


def search_list(*, agency: Agency | None) -> QuerySet[Search]:
    """The agency's searches, newest first."""
    return Search.objects.for_agency(agency).select_related("case", "requested_by")


def search_get(*, agency: Agency | None, pk: Any) -> Search:
    """One search of the agency, or 404."""
    return _get_or_404(search_list(agency=agency), pk)


def _all_candidates_of(search: Search) -> QuerySet[Candidate]:
    return (Candidate.objects.for_agency(search.agency).filter(search=search)
            .select_related("face", "subject", "gallery")
            .prefetch_related("reviews__reviewer").order_by("rank"))


def candidates_of(*, search: Search) -> QuerySet[Candidate]:
    """A search's candidates above the agency's line in rank order, with what a page shows."""
    return _all_candidates_of(search).exclude(band=Band.WEAK)


def weak_candidates_of(*, search: Search) -> QuerySet[Candidate]:
    """The few best below the line, kept when none passed: shown only on a deliberate request."""
    return _all_candidates_of(search).filter(band=Band.WEAK)


def gallery_size_of(*, agency: Agency, model_name: str) -> int:
    """How many faces a search of the agency compares the probe with (live faces, one recipe)."""
    return Face.objects.for_agency(agency).filter(model_name=model_name).count()


def candidate_get(*, search: Search, rank: Any) -> Candidate:
    """One candidate of a search by its rank (weak ones too), or 404."""
    try:
        return _all_candidates_of(search).select_related("search__case").get(rank=int(rank))
    except (ValueError, TypeError, Candidate.DoesNotExist):
        raise Http404("Not found") from None


def candidate_subject_faces(*, candidate: Candidate) -> QuerySet[Face]:
    """The candidate's subject's other live enrolled faces, for its compare page; none once the
    candidate is withdrawn (erased, or removed by an opt-out)."""
    face = candidate.shown_face
    if face is None:
        return Face.objects.none()
    return (Face.objects.for_agency(candidate.agency).filter(subject_id=face.subject_id)
            .exclude(pk=face.pk).select_related("enrolled_by").order_by("created_at", "pk"))


def nearest_faces_ranking(*, agency: Agency, embedding: Any, model_name: str,
                          limit: int) -> QuerySet[Any]:
    """(pk, distance) of the agency's `limit` enrolled faces closest to an embedding, nearest first.

    The agency and recipe filters are in SQL, before the distance ordering, so no other tenant's
    row is ranked; they are also the predicate of the agency's own HNSW index, when it has one
    (search/engine/vector_index.py).
    """
    return (Face.objects.for_agency(agency).filter(model_name=model_name)
            .annotate(distance=cosine_distance(embedding))
            .order_by("distance").values_list("pk", "distance")[:limit])


def nearest_faces(*, agency: Agency, embedding: Any, model_name: str, limit: int) -> list[Face]:
    """The ranked faces with their subject and gallery, each annotated with `distance`.

    Two statements on purpose: the ranking alone, on the face table, then the few winners by
    primary key. Joined in one statement (the ranking as a subquery), the planner misjudged the
    row-security predicate and hashed the agency's whole face table before the join: 2.8 s
    instead of 40 ms for an agency of a million faces (measured with benchmark_search).
    """
    from search.engine.vector_index import search_width  # vector_index reads models; imported late

    with search_width():
        ranking = list(nearest_faces_ranking(agency=agency, embedding=embedding,
                                             model_name=model_name, limit=limit))
    faces = (Face.objects.for_agency(agency).select_related("subject", "gallery")
             .defer("embedding").in_bulk([pk for pk, _ in ranking]))  # a recipe's floats each, unused
    for pk, distance in ranking:
        faces[pk].distance = distance  # type: ignore[attr-defined]
    return [faces[pk] for pk, _ in ranking]


def cohort_similarities(*, face: Face, k: int) -> list[float]:
    """Similarities of a face to its `k` nearest faces of other subjects in its own agency and
    recipe: its score-normalization cohort (search/engine/scoring.py)."""
    from search.engine.vector_index import search_width

    with search_width():
        ranking = (Face.objects.for_agency(face.agency).filter(model_name=face.model_name)
                   .exclude(subject_id=face.subject_id)
                   .annotate(distance=cosine_distance(face.embedding))
                   .order_by("distance").values_list("distance", flat=True)[:k])
        return [1.0 - d for d in ranking]


def oversight_report(*, agency: Agency, year: int) -> dict[str, Any]:
    """Figures for an oversight body: searches per officer, per offence, leads, refusals, by month."""
    searches = search_list(agency=agency).filter(created_at__year=year)
    with_lead = searches.filter(candidates__status=CandidateStatus.POSSIBLE_LEAD).distinct().count()
    refusals = (AuditEvent.objects.for_agency(agency)
                .filter(action=AuditAction.SEARCH_REFUSED, at__year=year)
                .values(code=KeyTextTransform("code", "details")).annotate(count=Count("pk"))
                .order_by("-count"))
    total = searches.count()
    return {
        "year": year, "searches": total, "with_possible_lead": with_lead,
        "lead_share": (with_lead / total) if total else 0.0,
        "no_face": searches.filter(status=SearchStatus.NO_FACE).count(),
        "per_officer": list(searches.values(officer=F("requested_by__username"))
                            .annotate(count=Count("pk")).order_by("-count")),
        "per_offence": [{"offence": OffenceCategory(row["offence"]).label, "count": row["count"]}
                        for row in searches.values(offence=F("case__offence_category"))
                        .annotate(count=Count("pk")).order_by("-count")],
        "per_month": list(searches.annotate(month=TruncMonth("created_at")).values("month")
                          .annotate(count=Count("pk")).order_by("month")),
        "refusals": list(refusals),
        "cases_opened": case_list(agency=agency).filter(created_at__year=year).count(),
    }



def _month_bounds(today: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime(today.year, today.month, 1))
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def oversight_month(*, agency: Agency, today: date | None = None) -> dict[str, Any]:
    """The auditor's figures for the month of `today` (UTC): searches, refusals by reason,
    candidates confirmed or rejected (by their last review), cases opened and closed."""
    today = today or timezone.now().date()
    start, end = _month_bounds(today)
    decided = (Candidate.objects.for_agency(agency).annotate(last_review=Max("reviews__created_at"))
               .filter(last_review__gte=start, last_review__lt=end))
    refusals = (AuditEvent.objects.for_agency(agency)
                .filter(outcome=AuditOutcome.REFUSED, at__gte=start, at__lt=end)
                .values("action", code=KeyTextTransform("code", "details"))
                .annotate(count=Count("pk")).order_by("-count", "action"))
    cases = case_list(agency=agency)
    return {
        "month": start.date(), "date_from": start.date(), "date_to": (end - timedelta(days=1)).date(),
        "searches": search_list(agency=agency).filter(created_at__gte=start, created_at__lt=end).count(),
        "refusals": [{**row, "label": AuditAction(row["action"]).label} for row in refusals],
        "confirmed": decided.filter(status=CandidateStatus.POSSIBLE_LEAD).count(),
        "rejected": decided.filter(status=CandidateStatus.NOT_A_MATCH).count(),
        "cases_opened": cases.filter(created_at__gte=start, created_at__lt=end).count(),
        "cases_closed": cases.filter(closed_at__gte=start, closed_at__lt=end).count(),
    }


def refusals_latest(*, agency: Agency, limit: int = 10) -> QuerySet[AuditEvent]:
    """The agency's most recent refused actions, newest first."""
    return (AuditEvent.objects.for_agency(agency).filter(outcome=AuditOutcome.REFUSED)
            .select_related("actor").order_by("-at", "-seq")[:limit])


TRANSPARENCY_CACHE_SECONDS = 600


def transparency_figures(*, years: list[int]) -> tuple[list[dict[str, Any]], datetime]:
    """Public, aggregate figures per agency (searches per year and offence category, retention)
    and when they were computed, which the page says.

    They count every agency's rows, so they are computed in the audited platform bypass, at most
    once per TRANSPARENCY_CACHE_SECONDS: anonymous visitors cannot flood the audit trail.
    """
    key = "casebound:transparency:" + ",".join(map(str, years))
    cached = cache.get(key)
    if cached is None:
        with platform_rows("public transparency page"):
            cached = (_transparency_figures(years), timezone.now())
        cache.set(key, cached, TRANSPARENCY_CACHE_SECONDS)
    return cached


def _transparency_figures(years: list[int]) -> list[dict[str, Any]]:
    rows = []
    for agency in Agency.objects.order_by("name"):
        per_year = []
        for year in years:
            searches = Search.objects.for_agency(agency).filter(created_at__year=year)
            per_offence = [{"offence": OffenceCategory(r["offence"]).label, "count": r["count"]}
                           for r in searches.values(offence=F("case__offence_category"))
                           .annotate(count=Count("pk")).order_by("-count")]
            per_year.append({"year": year, "searches": searches.count(), "per_offence": per_offence})
        rows.append({"agency": agency, "retention": retention_of(agency), "years": per_year})
    return rows


def operator_opt_outs() -> QuerySet[OptOutRequest]:
    """Opt-out requests the operator reviews: not tenant data (they come from the public), and only
    once their e-mail address is confirmed."""
    return (OptOutRequest.objects.exclude(status=OptOutStatus.UNCONFIRMED)
            .prefetch_related("consultations__agency"))


def consultation_list(*, agency: Agency | None) -> QuerySet[OptOutConsultation]:
    """The opt-out requests that matched the agency's faces, newest first."""
    return OptOutConsultation.objects.for_agency(agency).select_related("request")


def consultation_get(*, agency: Agency | None, pk: Any) -> OptOutConsultation:
    """One of the agency's opt-out consultations, or 404 (another agency's looks missing)."""
    return _get_or_404(consultation_list(agency=agency), pk)


def consultation_faces(*, consultation: OptOutConsultation) -> QuerySet[Face]:
    """The agency's own faces that matched, still enrolled; no other agency's face is ever here."""
    return (Face.objects.for_agency(consultation.agency).filter(pk__in=consultation.face_ids)
            .select_related("subject", "gallery").defer("embedding"))

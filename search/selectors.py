"""Reads for cases, galleries, searches and candidates; every one is scoped to an agency."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from guardian.shortcuts import get_objects_for_user
from pgvector.django import CosineDistance

from agencies.models import Agency
from search.models import Candidate, Case, Face, Gallery, Search, Subject


def _get_or_404(queryset: QuerySet[Any], pk: Any) -> Any:
    """One row of an already-scoped queryset; a missing and a foreign row look the same."""
    try:
        return queryset.get(pk=int(pk))
    except (ValueError, TypeError, queryset.model.DoesNotExist):
        raise Http404("Not found") from None


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


def gallery_list(*, agency: Agency | None) -> QuerySet[Gallery]:
    """The agency's galleries."""
    return Gallery.objects.for_agency(agency)


def gallery_get(*, agency: Agency | None, pk: Any) -> Gallery:
    """One gallery of the agency, or 404."""
    return _get_or_404(gallery_list(agency=agency), pk)


def subject_list(*, gallery: Gallery) -> QuerySet[Subject]:
    """A gallery's subjects with their face counts."""
    return Subject.objects.for_agency(gallery.agency).filter(gallery=gallery)


def face_get(*, agency: Agency | None, pk: Any) -> Face:
    """One enrolled face of the agency, or 404."""
    return _get_or_404(Face.objects.for_agency(agency), pk)


def search_list(*, agency: Agency | None) -> QuerySet[Search]:
    """The agency's searches, newest first."""
    return Search.objects.for_agency(agency).select_related("case", "requested_by")


def search_get(*, agency: Agency | None, pk: Any) -> Search:
    """One search of the agency, or 404."""
    return _get_or_404(search_list(agency=agency), pk)


def candidates_of(*, search: Search) -> QuerySet[Candidate]:
    """A search's candidates in rank order, with what a result page shows of each."""
    return (Candidate.objects.for_agency(search.agency).filter(search=search)
            .select_related("face", "subject", "gallery").order_by("rank"))


def nearest_faces(*, agency: Agency, embedding: Any, model_name: str, limit: int) -> list[Face]:
    """The agency's enrolled faces closest to an embedding, each annotated with `distance`.

    The agency filter is in SQL, before the distance ordering, so no other tenant's row is ranked.
    """
    galleries = gallery_list(agency=agency).values("pk")
    queryset = (Face.objects.for_agency(agency)
                .filter(gallery__in=galleries, model_name=model_name)
                .annotate(distance=CosineDistance("embedding", embedding))
                .select_related("subject", "gallery")
                .order_by("distance"))
    return list(queryset[:limit])

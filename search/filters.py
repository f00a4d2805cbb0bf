"""Filters and sorts of the case, search and gallery lists, shared by the pages and the API, so
that `?status=approved&sort=-opened` means the same in both."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from portal.listing import SortFilter
from search.models import (
    Case,
    CaseStatus,
    Gallery,
    LegalBasis,
    OffenceCategory,
    Search,
    SearchStatus,
    Subject,
)


def _choice(choices: list[tuple[str, str]], label: str) -> django_filters.ChoiceFilter:
    return django_filters.ChoiceFilter(
        choices=choices, label=label, empty_label="Any",
        error_messages={"invalid_choice": "%(value)s is not one of the choices: pick one from the list."})


class CaseFilter(django_filters.FilterSet):
    status = _choice(CaseStatus.choices, "Status")
    offence = django_filters.ChoiceFilter(
        field_name="offence_category", choices=OffenceCategory.choices, label="Offence",
        empty_label="Any",
        error_messages={"invalid_choice": "%(value)s is not an offence category: pick one from the list."})
    case_number = django_filters.CharFilter(lookup_expr="icontains", label="Case number contains")
    sort = SortFilter(fields=(("case_number", "case"), ("offence_category", "offence"),
                              ("status", "status"), ("opened_by__username", "opened_by"),
                              ("created_at", "opened")), default="-opened")

    class Meta:
        model = Case
        fields: list[str] = []


class SearchFilter(django_filters.FilterSet):
    status = _choice(SearchStatus.choices, "Status")
    case_number = django_filters.CharFilter(field_name="case__case_number", lookup_expr="icontains",
                                            label="Case number contains")
    sort = SortFilter(fields=(("created_at", "started"), ("case__case_number", "case"),
                              ("status", "status"), ("requested_by__username", "requested_by"),
                              ("candidate_count", "candidates")), default="-started")

    class Meta:
        model = Search
        fields: list[str] = []


class GalleryFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", label="Name contains")
    legal_basis = django_filters.ChoiceFilter(
        choices=LegalBasis.choices, label="Legal basis", empty_label="Any",
        error_messages={"invalid_choice": "%(value)s is not a legal basis: pick one from the list."})
    sort = SortFilter(fields=(("name", "name"), ("legal_basis", "legal_basis"),
                              ("subject_count", "subjects"), ("face_count", "faces"),
                              ("created_at", "created")), default="name")

    class Meta:
        model = Gallery
        fields: list[str] = []


class SubjectFilter(django_filters.FilterSet):
    """The subjects of one gallery page: found by reference or name, sorted by either."""

    q = django_filters.CharFilter(method="filter_q", label="Reference or name contains")
    sort = SortFilter(fields=(("reference", "reference"), ("display_name", "name"),
                              ("created_at", "enrolled")), default="reference")

    class Meta:
        model = Subject
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Subject], name: str, value: str) -> QuerySet[Subject]:
        return queryset.filter(Q(reference__icontains=value) | Q(display_name__icontains=value))

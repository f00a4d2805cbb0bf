"""Lists that scale, one way for every page: a django-filter FilterSet (the same one the API
uses) whose `sort` orders the rows, pages of PAGE_SIZE, and header links that sort by a column.

The filter is always bound, so its default sort applies and wrong input is an error to show,
never a filter silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import django_filters
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import viewsets

PAGE_SIZE = 25


class SortFilter(django_filters.OrderingFilter):
    """`?sort=name` or `?sort=-name`, one of the named columns. Equal values are ordered by id,
    so that consecutive pages never repeat or skip a row."""

    def __init__(self, *, default: str, **kwargs: Any) -> None:
        self.default = default
        kwargs.setdefault("label", "Sort by")
        kwargs.setdefault("empty_label", "Default order")
        kwargs.setdefault("error_messages", {
            "invalid_choice": "%(value)s is not a column to sort by: use one of the column headers."})
        super().__init__(**kwargs)

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        params = [param for param in (value or []) if param] or [self.default]
        ordering = [self.get_ordering_value(param) for param in params]
        return qs.order_by(*ordering, "-pk" if ordering[0].startswith("-") else "pk")


class ListFilters(viewsets.GenericViewSet[Any]):
    """An API list's `filterset_class`, the filter and sort of its page; the address of one
    object ignores them, so that a stray `?status=` cannot hide it."""

    filter_backends = [DjangoFilterBackend]

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return super().filter_queryset(queryset) if self.action == "list" else queryset


@dataclass(frozen=True)
class Column:
    """A table header: sortable when it has a `key` (the public name in `?sort=`); a `numeric`
    one is aligned right, like its figures."""

    label: str
    key: str = ""
    aria_sort: str = ""  # "ascending" or "descending" on the column the rows are sorted by
    url: str = ""  # sorts by this column, the other way round when it already sorts
    numeric: bool = False


@dataclass(frozen=True)
class Listing:
    filter: django_filters.FilterSet
    page: Page[Any]
    columns: list[Column]
    query: str  # the filter and sort without the page, for the page links
    page_numbers: list[int | None]  # None stands for the pages left out ("…")

    @property
    def invalid(self) -> bool:
        return not self.filter.is_valid()


def listing(request: HttpRequest, filterset: type[django_filters.FilterSet],
            queryset: QuerySet[Any], columns: Sequence[tuple[Any, ...]],
            **kwargs: Any) -> Listing:
    """The page of `queryset` that the request asks for, filtered and sorted as it asks.
    `columns` are (label, sort key or "", numeric=False) in the table's order."""
    rows = filterset(request.GET, queryset=queryset, request=request, **kwargs)
    chosen = rows.qs if rows.is_valid() else queryset.none()  # the errors are shown instead
    # get_page: a page number past the end shows the last page, a non-number the first.
    page = Paginator(chosen, PAGE_SIZE).get_page(request.GET.get("page"))
    current = rows.form.cleaned_data.get("sort") if rows.is_valid() else None
    sort = (current or [rows.filters["sort"].default])[0]
    return Listing(filter=rows, page=page, columns=[_column(request.GET, sort, *column)
                                                    for column in columns],
                   query=_without(request.GET, "page"), page_numbers=_page_numbers(page))


def _column(query: QueryDict, sort: str, label: str, key: str, numeric: bool = False) -> Column:
    if not key:
        return Column(label, numeric=numeric)
    params = query.copy()
    params.pop("page", None)
    if sort.lstrip("-") != key:
        params["sort"] = key
        return Column(label, key, url=f"?{params.urlencode()}", numeric=numeric)
    descending = sort.startswith("-")
    params["sort"] = key if descending else f"-{key}"
    return Column(label, key, "descending" if descending else "ascending", f"?{params.urlencode()}",
                  numeric)


def _without(query: QueryDict, name: str) -> str:
    params = query.copy()
    params.pop(name, None)
    return params.urlencode()


def _page_numbers(page: Page[Any]) -> list[int | None]:
    """The first, the last and the pages next to the current one, with gaps as None."""
    last = page.paginator.num_pages
    shown = sorted({1, last, *range(max(1, page.number - 1), min(last, page.number + 1) + 1)})
    numbers: list[int | None] = []
    for number in shown:
        if numbers and number - (numbers[-1] or 0) > 1:
            numbers.append(None)
        numbers.append(number)
    return numbers

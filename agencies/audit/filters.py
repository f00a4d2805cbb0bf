"""Filters of the audit trail, shared by the auditor's page, its CSV export and the API."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from agencies.audit.models import AuditAction, AuditEvent, AuditOutcome
from portal.listing import SortFilter


class AuditFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", f"The end ({end}) is before the start ({start}): swap them.")
        return data


class AuditEventFilter(django_filters.FilterSet):
    """Wrong input (a case id that is not a number, an end before the start) is an error the reader
    sees, never a filter silently dropped: the page shows no events, the API answers 400."""

    actor = django_filters.CharFilter(field_name="actor_name", lookup_expr="iexact",
                                      label="Officer (username)")
    action = django_filters.ChoiceFilter(choices=AuditAction.choices, empty_label="Any")
    outcome = django_filters.ChoiceFilter(choices=AuditOutcome.choices, empty_label="Any")
    case = django_filters.NumberFilter(method="filter_case", label="Case id",
                                       error_messages={"invalid": "A case id is a number."})
    case_number = django_filters.CharFilter(method="filter_case_number", label="Case number")
    date_from = django_filters.DateFilter(field_name="at", lookup_expr="date__gte", label="From (UTC)",
                                          widget=forms.DateInput(attrs={"type": "date"}))
    date_to = django_filters.DateFilter(field_name="at", lookup_expr="date__lte", label="To (UTC)",
                                        widget=forms.DateInput(attrs={"type": "date"}))
    # The sequence orders the chain; equal times (one request's events) keep that order.
    sort = SortFilter(fields=(("seq", "seq"), ("actor_name", "who"), ("action", "action")),
                      default="-seq")

    class Meta:
        model = AuditEvent
        fields: list[str] = []
        form = AuditFilterForm

    def filter_case(self, queryset: QuerySet[AuditEvent], name: str, value: Any) -> QuerySet[AuditEvent]:
        case_id = int(value)  # NumberFilter gives a Decimal, which JSON lookups cannot compare
        return queryset.filter(Q(object_type="case", object_id=str(case_id)) | Q(details__case_id=case_id))

    def filter_case_number(self, queryset: QuerySet[AuditEvent], name: str,
                           value: str) -> QuerySet[AuditEvent]:
        return queryset.filter(details__case_number=value)

"""Filters of the audit trail, shared by the auditor's page, its CSV export and the API."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet

from agencies.audit.models import AuditAction, AuditEvent, AuditOutcome


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_name", lookup_expr="iexact",
                                      label="Officer (username)")
    action = django_filters.ChoiceFilter(choices=AuditAction.choices)
    outcome = django_filters.ChoiceFilter(choices=AuditOutcome.choices)
    case = django_filters.NumberFilter(method="filter_case", label="Case id")
    case_number = django_filters.CharFilter(method="filter_case_number", label="Case number")
    date_from = django_filters.DateFilter(field_name="at", lookup_expr="date__gte", label="From (UTC)",
                                          widget=forms.DateInput(attrs={"type": "date"}))
    date_to = django_filters.DateFilter(field_name="at", lookup_expr="date__lte", label="To (UTC)",
                                        widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_case(self, queryset: QuerySet[AuditEvent], name: str, value: Any) -> QuerySet[AuditEvent]:
        case_id = int(value)  # NumberFilter gives a Decimal, which JSON lookups cannot compare
        return queryset.filter(Q(object_type="case", object_id=str(case_id)) | Q(details__case_id=case_id))

    def filter_case_number(self, queryset: QuerySet[AuditEvent], name: str,
                           value: str) -> QuerySet[AuditEvent]:
        return queryset.filter(details__case_number=value)

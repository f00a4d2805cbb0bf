"""Filter and sort of the agency admin's list of people."""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from agencies.tenancy.models import Role
from portal.listing import SortFilter


class PeopleFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(field_name="username", lookup_expr="icontains",
                                     label="Username contains")
    role = django_filters.ChoiceFilter(
        field_name="membership__role", choices=Role.choices, label="Role", empty_label="Any",
        error_messages={"invalid_choice": "%(value)s is not a role: pick one from the list."})
    active = django_filters.ChoiceFilter(
        method="filter_active", choices=[("yes", "Active"), ("no", "Disabled")], label="Account",
        empty_label="Any",
        error_messages={"invalid_choice": "%(value)s is not a choice: pick Active or Disabled."})
    sort = SortFilter(fields=(("username", "name"), ("membership__role", "role"),
                              ("membership__training_valid_until", "training"),
                              ("is_active", "active")), default="name")

    class Meta:
        model = get_user_model()
        fields: list[str] = []

    def filter_active(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return queryset.filter(is_active=value == "yes")

"""Tenant scoping, in one place: every tenant-owned row carries `agency`, and reads filter on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models

if TYPE_CHECKING:
    from agencies.tenancy.models import Agency

_M = TypeVar("_M", bound=models.Model)
# The first wall. Tests switch it off to prove that row-level security alone still isolates
# agencies (tests/test_tenant_isolation.py); nothing else may change it.
APP_FILTER = True


class TenantQuerySet(models.QuerySet[_M]):
    def for_agency(self, agency: Agency | None) -> TenantQuerySet[_M]:
        """Rows of this agency only; no agency (a user without membership) sees nothing."""
        if agency is None:
            return self.none()
        return self.filter(agency=agency) if APP_FILTER else self.all()


class TenantModel(models.Model):
    """Abstract base for every tenant-owned model."""

    agency: Any = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True

"""Tenant scoping, in one place: every tenant-owned row carries `agency`, and reads filter on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models

if TYPE_CHECKING:
    from agencies.tenancy.models import Agency

_M = TypeVar("_M", bound=models.Model)


class TenantQuerySet(models.QuerySet[_M]):
    def for_agency(self, agency: Agency | None) -> TenantQuerySet[_M]:
        """Rows of this agency only; no agency (a user without membership) sees nothing.

        The first wall; row-level security is the second (tests/test_tenant_isolation.py takes
        this one down to prove the other alone)."""
        if agency is None:
            return self.none()
        return self.filter(agency=agency)


class TenantModel(models.Model):
    """Abstract base for every tenant-owned model."""

    agency: Any = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True

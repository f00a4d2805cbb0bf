"""API building blocks that apply tenant scoping once, so concrete views cannot forget it."""

from __future__ import annotations

from functools import cached_property
from typing import Any, TypeVar, cast

from django.db import models
from django.db.models import QuerySet
from rest_framework import permissions, viewsets
from rest_framework.request import Request

from agencies.tenancy.models import Agency
from agencies.tenancy.permissions import is_platform_operator
from agencies.tenancy.querysets import TenantQuerySet
from agencies.tenancy.requests import AgencyRequest
from agencies.tenancy.selectors import has_role

_M = TypeVar("_M", bound=models.Model)


class IsAgencyMember(permissions.BasePermission):
    """Only users who act for an agency reach tenant endpoints; platform staff use /platform/."""

    message = "This endpoint is for members of an agency."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user.is_authenticated) and agency_of(request) is not None


def agency_of(request: Request) -> Agency | None:
    """The agency the API request acts for, bound once by RowScopeMiddleware or, for a token,
    by the API's authentication (DRF authenticates after middleware)."""
    return cast(AgencyRequest, request._request).agency


class TenantViewSet(viewsets.GenericViewSet[_M]):
    """Base of every tenant API view: members only, and every row scoped to the acting agency.

    Like netbox's BaseViewSet: a concrete view declares `queryset` (or starts from a selector in
    `tenant_queryset`), and `get_queryset` scopes whatever it starts from to `self.agency`, so a
    view cannot forget the filter; another agency's object answers 404 like a missing one.
    """

    permission_classes = [permissions.IsAuthenticated, IsAgencyMember]
    # Roles an action needs beyond membership, e.g. {"create": (Role.AGENCY_ADMIN,)}.
    action_roles: dict[str, tuple[str, ...]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:  # the one override that could skip the scope
            raise TypeError(f"{cls.__name__} overrides get_queryset(), which scopes rows to the "
                            "acting agency: override tenant_queryset() instead")

    def get_permissions(self) -> list[Any]:
        checks = [permission() for permission in self.permission_classes]
        roles = self.action_roles.get(self.action or "")
        return [*checks, role_required(*roles)()] if roles else checks

    def tenant_queryset(self) -> QuerySet[_M]:
        """The rows this view starts from (the declared `queryset`); narrow or annotate them here."""
        return super().get_queryset()

    def get_queryset(self) -> QuerySet[_M]:
        rows = self.tenant_queryset()
        if not isinstance(rows, TenantQuerySet):
            raise TypeError(f"{type(self).__name__} must start from a tenant queryset")
        return rows.for_agency(self.agency)

    @cached_property
    def agency(self) -> Agency:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular builds the schema
            return None  # type: ignore[return-value]
        agency = agency_of(self.request)
        assert agency is not None  # guaranteed by IsAgencyMember  # noqa: S101
        return agency


def role_required(*roles: str) -> type[permissions.BasePermission]:
    """A DRF permission class that admits members holding one of these roles."""

    class HasRole(permissions.BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request: Request, view: Any) -> bool:
            return has_role(request.user, *roles)

    return HasRole


class IsPlatformAdmin(permissions.BasePermission):
    """The platform operator: staff with no agency membership."""

    message = "This endpoint is for the platform operator."

    def has_permission(self, request: Request, view: Any) -> bool:
        return is_platform_operator(request.user)

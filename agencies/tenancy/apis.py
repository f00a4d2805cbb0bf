"""API building blocks that apply tenant scoping once, so concrete views cannot forget it."""

from __future__ import annotations

from functools import cached_property
from typing import Any, TypeVar

from django.db import models
from rest_framework import permissions, viewsets
from rest_framework.request import Request

from agencies.tenancy.models import Agency
from agencies.tenancy.permissions import is_platform_operator
from agencies.tenancy.selectors import acting_agency, has_role

_M = TypeVar("_M", bound=models.Model)


class IsAgencyMember(permissions.BasePermission):
    """Only users who act for an agency reach tenant endpoints; platform staff use /platform/."""

    message = "This endpoint is for members of an agency."

    def has_permission(self, request: Request, view: Any) -> bool:
        return acting_agency(request.user) is not None


class TenantViewSet(viewsets.GenericViewSet[_M]):
    """Base of every tenant API view: members only, and the acting agency resolved once per request
    from the user's membership. Concrete views build their querysets from `self.agency`."""

    permission_classes = [permissions.IsAuthenticated, IsAgencyMember]
    # Roles an action needs beyond membership, e.g. {"create": (Role.AGENCY_ADMIN,)}.
    action_roles: dict[str, tuple[str, ...]] = {}

    def get_permissions(self) -> list[Any]:
        checks = [permission() for permission in self.permission_classes]
        roles = self.action_roles.get(self.action or "")
        return [*checks, role_required(*roles)()] if roles else checks

    @cached_property
    def agency(self) -> Agency:
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular builds the schema
            return None  # type: ignore[return-value]
        agency = acting_agency(self.request.user)
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

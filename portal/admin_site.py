"""The Django admin, read-only: the operator may look, every write goes through an audited service.

The admin saves rows directly, so an edit there would skip the services' checks (seats, roles,
eligibility) and the audit trail. Every ModelAdmin registered on this site, ours or a third
party's (django-otp, axes, auth), is wrapped at registration: no add, change, delete or bulk
action, and secret fields are never rendered. The writes an operator needs have audited homes:
agencies and licenses on /platform/, plans on the platform API, unlocks on /platform/ and the
People page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.db.models import Model
from django.http import HttpRequest

# API token keys, TOTP seeds and password hashes: never shown, never searchable.
SECRET_FIELDS = frozenset({"key", "password"})
# Models that are nothing but a secret (a DRF token's text *is* its key): not registered at all.
NEVER_REGISTERED = frozenset({"authtoken.token", "authtoken.tokenproxy"})


def _without_secrets(names: Sequence[Any]) -> list[Any]:
    return [name for name in names if name not in SECRET_FIELDS]


class _NoWrites:
    """No add, change or delete: the permissions a ModelAdmin and an inline both ask."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyModelAdmin(_NoWrites, admin.ModelAdmin):  # type: ignore[type-arg]
    """Mixed in front of every registered ModelAdmin: view only, secrets left out."""

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}  # bulk actions (axes' clean-up, delete_selected) write without an audit event

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        return _without_secrets(super().get_list_display(request))

    def get_list_display_links(self, request: HttpRequest, list_display: Any) -> Any:
        links = super().get_list_display_links(request, list_display)
        return _without_secrets(links) if links else links

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return _without_secrets(super().get_search_fields(request))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return _without_secrets(super().get_fields(request, obj))

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return [(name, {**options, "fields": _without_secrets(options.get("fields", ()))})
                for name, options in super().get_fieldsets(request, obj)]

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return [read_only(inline) for inline in super().get_inlines(request, obj)]


class _ReadOnlyInline(_NoWrites):
    """Mixed in front of every inline of a registered ModelAdmin."""


def read_only(admin_class: type[Any]) -> type[Any]:
    """`admin_class` with the read-only rules in front of its own."""
    if issubclass(admin_class, ReadOnlyModelAdmin | _ReadOnlyInline):
        return admin_class
    mixin = _ReadOnlyInline if issubclass(admin_class, admin.options.InlineModelAdmin) \
        else ReadOnlyModelAdmin
    return type(f"ReadOnly{admin_class.__name__}", (mixin, admin_class), {})


class ReadOnlyAdminSite(admin.AdminSite):
    """The default admin site: every registration is made read-only (see the module docstring)."""

    site_header = "Casebound operator (read-only)"

    def register(self, model_or_iterable: type[Model] | Iterable[type[Model]],
                 admin_class: type[Any] | None = None, **options: Any) -> None:
        models = [model_or_iterable] if isinstance(model_or_iterable, type) \
            else list(model_or_iterable)
        for model in models:
            if _label(model) not in NEVER_REGISTERED:
                super().register(model, read_only(admin_class or admin.ModelAdmin), **options)

    def has_permission(self, request: HttpRequest) -> bool:
        from agencies.tenancy.permissions import is_platform_operator

        # Staff who belong to an agency are not the operator: they never see other agencies here.
        return super().has_permission(request) and is_platform_operator(request.user)


def _label(model: type[Model]) -> str:
    return model._meta.label_lower


class CaseboundAdminConfig(AdminConfig):
    default_site = "portal.admin_site.ReadOnlyAdminSite"


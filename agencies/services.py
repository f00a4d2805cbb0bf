"""Writes for agencies and their members."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from agencies.models import Agency, Membership


@transaction.atomic
def agency_ensure(*, slug: str, name: str) -> Agency:
    """The agency with this slug, created if missing."""
    agency, _ = Agency.objects.get_or_create(slug=slug, defaults={"name": name})
    return agency


@transaction.atomic
def member_ensure(*, agency: Agency | None, username: str, role: str, password: str,
                  is_platform_admin: bool = False) -> Any:
    """A user with this password and role in the agency (or platform staff), created if missing."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    user.set_password(password)
    user.is_staff = user.is_superuser = is_platform_admin
    user.save()
    if agency is not None:
        Membership.objects.update_or_create(user=user, defaults={"agency": agency, "role": role})
    return user

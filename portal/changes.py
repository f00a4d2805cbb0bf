"""The "update a setting" step that services share: apply the named changes, refuse bad values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model

from portal.errors import ServiceError


def fields_apply(obj: Model, fields: Iterable[str], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Set those `changes` that name one of `fields` on `obj` (unsaved); return the values before.

    Any other key is ignored: a caller can pass a form's or serializer's data as it is.
    """
    fields = tuple(fields)
    before = {name: getattr(obj, name) for name in fields}
    for name in fields:
        if name in changes:
            setattr(obj, name, changes[name])
    return before


def clean_or_refuse(obj: Model, *, code: str, exclude: Iterable[str] | None = None) -> None:
    """Run the model's validators; a bad value is refused with `code` and their messages (400)."""
    try:
        obj.full_clean(exclude=list(exclude) if exclude is not None else None)
    except ValidationError as exc:
        raise ServiceError(code, " ".join(exc.messages)) from None

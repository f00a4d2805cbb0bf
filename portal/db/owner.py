"""Work that only the tables' owner may do: migrations and per-agency index builds.

The application's own role owns nothing (so row-level security binds it); DDL therefore runs
over the owner's credentials (settings.DATABASE_OWNER) on the database the application uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections

CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")


def owner_credentials() -> dict[str, Any]:
    """The owner's user, password, host and port (the database name stays the application's)."""
    return {key: settings.DATABASE_OWNER.get(key, "") for key in CREDENTIALS}


@contextlib.contextmanager
def as_owner(alias: str = "default") -> Iterator[None]:
    """Point Django's connection at the owner's credentials for the block (not inside atomic)."""
    connection = connections[alias]
    saved = {key: connection.settings_dict[key] for key in CREDENTIALS}
    connection.close()
    connection.settings_dict.update(owner_credentials())
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


@contextlib.contextmanager
def owner_cursor(alias: str = "default") -> Iterator[psycopg.Cursor[Any]]:
    """An autocommit cursor of its own, as the owner, for DDL such as CREATE INDEX CONCURRENTLY."""
    with owner_connection(alias) as connection, connection.cursor() as cursor:
        yield cursor


@contextlib.contextmanager
def owner_connection(alias: str = "default") -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection of its own, as the owner."""
    params = connections[alias].get_connection_params()
    owner = owner_credentials()
    params.update({"user": owner["USER"], "password": owner["PASSWORD"] or None,
                   "host": owner["HOST"] or None, "port": owner["PORT"] or None})
    params = {key: value for key, value in params.items()
              if value is not None and key not in {"cursor_factory", "context", "prepare_threshold"}}
    with psycopg.connect(**params, autocommit=True) as connection:
        yield connection

"""Which rows the database lets this request or task see: the second wall behind `for_agency`.

Postgres row-level security policies (installed by `agencies.tenancy.row_security`) compare each tenant
row with three settings of the session: `casebound.agency`, `casebound.user` and
`casebound.bypass`. The scope wanted by the running code lives in a context variable; the database
backend (`portal.db.base`) copies it into the session before the next query whenever it changed,
so a scope costs nothing until it is used and cannot be left behind on a pooled connection.

No scope at all means no tenant row is visible: code that forgot to say whose data it works on
fails closed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Scope:
    agency_id: int | None = None
    user_id: int | None = None
    bypass: bool = False

    def settings(self) -> list[str]:
        return [str(self.agency_id or ""), str(self.user_id or ""), "on" if self.bypass else ""]


NOTHING = Scope()
EVERYTHING = Scope(bypass=True)
SET_SQL = ("SELECT set_config('casebound.agency', %s, false), "
           "set_config('casebound.user', %s, false), set_config('casebound.bypass', %s, false)")

_current: ContextVar[Scope] = ContextVar("casebound_row_scope", default=NOTHING)


def current() -> Scope:
    return _current.get()


@contextlib.contextmanager
def rows(scope: Scope) -> Iterator[Scope]:
    """Run the block with `scope`, then return to the scope before it."""
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def enter(scope: Scope) -> None:
    """Switch the scope until the enclosing `rows` block ends (for DRF authentication)."""
    _current.set(scope)

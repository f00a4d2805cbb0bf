"""Django's PostgreSQL backend, plus the row-level security scope of the running code.

Before each query the wanted scope (portal.db.scope) is compared with what this connection last
set; only a change costs a `set_config`. A rollback may undo settings made inside the
transaction, so after one the connection is treated as unknown and set again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.backends.postgresql import base

from portal.db import scope


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.row_scope: scope.Scope | None = None
        self.rolling_back = False
        self.execute_wrappers.append(self._apply_row_scope)

    def init_connection_state(self) -> None:
        super().init_connection_state()
        self.row_scope = None

    def _rollback(self) -> None:
        super()._rollback()  # type: ignore[misc]
        self.row_scope = None

    def _savepoint_rollback(self, sid: str) -> None:
        # ROLLBACK TO SAVEPOINT is itself a query, sent into an aborted transaction that would
        # refuse a set_config before it; the scope is set again by the next query instead.
        self.rolling_back = True
        try:
            super()._savepoint_rollback(sid)  # type: ignore[misc]
        finally:
            self.rolling_back = False
            self.row_scope = None

    def _apply_row_scope(self, execute: Callable[..., Any], sql: str, params: Any, many: bool,
                         context: dict[str, Any]) -> Any:
        wanted = scope.current()
        if wanted != self.row_scope and not self.rolling_back:
            with self.connection.cursor() as cursor:  # the raw psycopg cursor: no wrappers
                cursor.execute(scope.SET_SQL, wanted.settings())
            self.row_scope = wanted
        return execute(sql, params, many, context)

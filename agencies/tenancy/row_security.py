"""Postgres row-level security on every tenant-owned table: the second wall behind `for_agency`.

Installed by every `migrate` (so a new tenant table cannot be forgotten): each table with an
`agency` column, plus the few that belong to an agency through a parent row, gets ENABLE and
FORCE ROW LEVEL SECURITY and one policy that admits a row only when it belongs to the agency of the
session's scope (`portal.db.scope`), or when the scope is an explicit platform bypass. The
application connects as a role that owns no table (CASEBOUND_DB_APP_ROLE), receives plain
SELECT/INSERT/UPDATE/DELETE here, and so cannot switch the policies off; migrations and index
builds run as the owner.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Warning
from django.db import connections, models
from psycopg import sql

from portal.config import setting
from portal.db import scope

logger = logging.getLogger(__name__)

FUNCTIONS = """
CREATE OR REPLACE FUNCTION casebound_agency() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('casebound.agency', true), '')::bigint $$;
CREATE OR REPLACE FUNCTION casebound_user() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('casebound.user', true), '')::bigint $$;
CREATE OR REPLACE FUNCTION casebound_bypass() RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT current_setting('casebound.bypass', true) IS NOT DISTINCT FROM 'on' $$;
"""
POLICY_NAME = "casebound_tenant"
# Tables whose agency is not a plain `agency_id` column. A user always sees their own membership,
# which is how a request finds its agency before it has one.
SPECIAL_RULES = {
    "agencies_agency": "id = casebound_agency()",
    "agencies_membership": "agency_id = casebound_agency() OR user_id = casebound_user()",
    "agencies_auditchainhead": "chain = casebound_agency()",
    "agencies_invoiceline": "EXISTS (SELECT 1 FROM agencies_invoice i WHERE i.id = invoice_id)",
    "search_caseuserobjectpermission":
        "EXISTS (SELECT 1 FROM search_case c WHERE c.id = content_object_id)",
}


def _has_agency(model: type[models.Model]) -> bool:
    field = next((f for f in model._meta.concrete_fields if f.name == "agency"), None)
    return field is not None and field.related_model is apps.get_model("agencies", "Agency")


def tenant_rules() -> dict[str, str]:
    """Table name -> the condition a row must meet to be visible in the session's scope."""
    rules = {model._meta.db_table: "agency_id = casebound_agency()"
             for model in apps.get_models() if _has_agency(model)}
    rules.update(SPECIAL_RULES)
    return dict(sorted(rules.items()))


def _policy_sql(table: str, rule: str) -> list[sql.Composed]:
    name, policy = sql.Identifier(table), sql.Identifier(POLICY_NAME)
    condition = sql.SQL(f"({rule}) OR casebound_bypass()")  # noqa: S608  (constants above)
    return [
        sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(name),
        sql.SQL("ALTER TABLE {} FORCE ROW LEVEL SECURITY").format(name),
        sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(policy, name),
        sql.SQL("CREATE POLICY {} ON {} USING ({}) WITH CHECK ({})").format(
            policy, name, condition, condition),
    ]


def _grant_sql(role: str) -> list[sql.Composed]:
    who = sql.Identifier(role)
    return [
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(who),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(who),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(who),
    ]


def install(using: str = "default") -> None:
    """(Re)create the scope functions, the policies and the application role's grants."""
    connection = connections[using]
    role = str(setting("DB_APP_ROLE"))
    with connection.cursor() as cursor:
        cursor.execute(FUNCTIONS)
        for table, rule in tenant_rules().items():
            for statement in _policy_sql(table, rule):
                cursor.execute(statement.as_string(connection.connection))
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            logger.warning("Row-level security: role %s does not exist; no grants made", role)
            return
        for statement in _grant_sql(role):
            cursor.execute(statement.as_string(connection.connection))


# --- Scopes: whose rows the running code may see ----------------------------------------------


def agency_scope(agency_id: int | None, user_id: int | None = None) -> scope.Scope:
    return scope.Scope(agency_id=agency_id, user_id=user_id)


def user_scope(user: Any) -> scope.Scope:
    """A signed-in user sees their agency's rows; the platform operator sees every agency's."""
    from agencies.tenancy.permissions import is_platform_operator
    from agencies.tenancy.selectors import membership_of

    if not getattr(user, "is_authenticated", False):
        return scope.NOTHING
    if is_platform_operator(user):
        return scope.EVERYTHING
    membership = membership_of(user)
    return agency_scope(membership.agency_id if membership else None, user.pk)


def agency_rows(agency_id: int | None) -> contextlib.AbstractContextManager[scope.Scope]:
    """Work on one agency's rows, e.g. in a task that was given the agency with its ids."""
    return scope.rows(agency_scope(agency_id))


# --- Deployment check -----------------------------------------------------------------------


ROLE_SQL = """
SELECT r.rolsuper, r.rolbypassrls,
       EXISTS (SELECT 1 FROM pg_class c WHERE c.relname = 'search_face'
               AND pg_has_role(current_user, c.relowner, 'USAGE'))
FROM pg_roles r WHERE r.rolname = current_user
"""


def role_problems(cursor: Any) -> list[str]:
    """Why the role of this connection would not be bound by the policies (empty: it is)."""
    cursor.execute(ROLE_SQL)
    superuser, bypass, owner = cursor.fetchone()
    reasons = {"is a superuser": superuser, "has BYPASSRLS": bypass, "owns the tables": owner}
    return [reason for reason, present in reasons.items() if present]


def check_application_role(app_configs: Any = None, databases: Any = None,
                           **kwargs: Any) -> list[CheckMessage]:
    """`manage.py check --database default`: the application must not be able to bypass RLS."""
    if not databases or "default" not in databases:
        return []
    with connections["default"].cursor() as cursor:
        problems = role_problems(cursor)
    if not problems:
        return []
    return [Warning(
        f"The application's database role {', '.join(problems)}, so row-level security does not "
        "bind it.", hint="Connect DATABASE_URL as a role that owns no table (CASEBOUND_DB_APP_ROLE) "
        "and run migrations with CASEBOUND_OWNER_DATABASE_URL; see docs/security.md.",
        id="casebound.W001")]

"""Postgres row-level security, the second wall: what the database itself lets the application see.

These tests run as the application's role (see conftest.py), the role production uses.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from agencies.audit.bypass import platform_rows
from agencies.audit.models import AuditAction, AuditEvent
from agencies.tenancy.models import Membership
from agencies.tenancy.row_security import (
    POLICY_NAME,
    agency_rows,
    check_application_role,
    role_problems,
    tenant_rules,
    user_scope,
)
from portal.db import scope
from portal.db.owner import owner_cursor
from search.models import Case, Face, Gallery
from search.services import searching
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import enroll_people


def _fetch(query: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


@pytest.mark.django_db
def test_the_application_role_owns_nothing_and_cannot_bypass() -> None:
    [(user, superuser, bypass)] = _fetch(
        "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    assert (user, superuser, bypass) == ("casebound_app", False, False)
    owned = _fetch("SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                   "WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = current_user")
    assert owned == []
    with pytest.raises(DatabaseError, match="must be owner"), transaction.atomic():
        _fetch("ALTER TABLE search_case DISABLE ROW LEVEL SECURITY")


@pytest.mark.django_db
def test_every_tenant_table_forces_its_policy() -> None:
    rules = tenant_rules()
    rows = _fetch("SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                  "count(p.policyname) FROM pg_class c LEFT JOIN pg_policies p "
                  "ON p.tablename = c.relname AND p.policyname = %s WHERE c.relname = ANY(%s) "
                  "GROUP BY 1, 2, 3", [POLICY_NAME, list(rules)])
    assert {row[0] for row in rows} == set(rules)
    assert all(row[1:] == (True, True, 1) for row in rows), rows
    assert {"search_face", "search_case", "agencies_auditevent", "agencies_membership",
            "agencies_agency", "search_caseuserobjectpermission"} <= set(rules)


def test_no_table_belongs_to_an_agency_without_a_policy() -> None:
    """A table that points at a tenant table holds that agency's data and needs the policy too."""
    protected = set(tenant_rules())
    shared = {"django_admin_log"}  # the operator's own admin log, never shown to agencies
    for model in apps.get_models():
        table = model._meta.db_table
        parents = {f.related_model._meta.db_table for f in model._meta.concrete_fields
                   if f.is_relation and f.related_model is not None}
        if parents & protected and table not in shared:
            assert table in protected, f"{table} refers to a tenant table but has no policy"


@pytest.mark.django_db
def test_the_database_shows_each_scope_its_own_rows_only(cast) -> None:
    mine = GalleryFactory(agency=cast.agency, name="North bookings")
    GalleryFactory(agency=cast.other_agency, name="South bookings")
    with agency_rows(cast.other_agency.pk):
        assert list(Gallery.objects.values_list("name", flat=True)) == ["South bookings"]
        assert not Gallery.objects.filter(pk=mine.pk).exists()
    with scope.rows(scope.NOTHING):  # code that forgot to say whose data: sees none
        assert Gallery.objects.count() == 0
        assert Membership.objects.count() == 0
    with scope.rows(scope.EVERYTHING):
        assert Gallery.objects.count() == 2


@pytest.mark.django_db
def test_the_database_refuses_writing_into_another_agency(cast) -> None:
    with agency_rows(cast.other_agency.pk):
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Gallery.objects.create(agency=cast.agency, name="planted", source="x",
                                   legal_basis="other_statute")
        # An UPDATE or DELETE aimed at another agency's rows finds nothing to change.
        assert Case.objects.filter(agency=cast.agency).update(case_number="changed") == 0


@pytest.mark.django_db
def test_a_user_scope_is_their_agency_and_the_operator_sees_all(cast) -> None:
    from tests.factories import UserFactory

    assert user_scope(cast.officer) == scope.Scope(agency_id=cast.agency.pk,
                                                   user_id=cast.officer.pk)
    assert user_scope(cast.operator) == scope.EVERYTHING
    stranger = UserFactory()
    assert user_scope(stranger) == scope.Scope(user_id=stranger.pk)


@pytest.mark.django_db
def test_a_task_given_another_agency_cannot_touch_the_search(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    enroll_people(gallery, count=1)
    case = assigned_case(cast.agency, cast.officer)
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Ariel_Sharon", 2))
    with agency_rows(cast.other_agency.pk):  # its claim finds no such search to take
        searching.search_run(search_id=search.pk)
    search.refresh_from_db()
    assert search.status == "queued" and not search.candidates.exists()
    with agency_rows(cast.agency.pk):
        searching.search_run(search_id=search.pk)
    assert search.candidates.exists()


@pytest.mark.django_db
def test_the_platform_bypass_is_on_the_record(cast) -> None:
    with platform_rows("a test job") as use:
        assert Face.objects.count() == 0 and Gallery.objects.count() == 0
        use.changed = 0
    event = AuditEvent.objects.filter(action=AuditAction.PLATFORM_BYPASS).get()
    assert event.chain == 0 and event.details == {"reason": "a test job"}
    with platform_rows("an idle periodic job", record_idle=False):
        pass
    assert AuditEvent.objects.filter(action=AuditAction.PLATFORM_BYPASS).count() == 1


@pytest.mark.django_db
def test_the_deploy_check_names_a_role_that_could_bypass() -> None:
    assert check_application_role(databases=["default"]) == []
    with connection.cursor() as cursor:
        assert role_problems(cursor) == []
    with owner_cursor() as cursor:  # the owner here is the embedded server's superuser
        assert "is a superuser" in role_problems(cursor)

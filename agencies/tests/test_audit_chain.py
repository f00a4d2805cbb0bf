"""The audit trail is append-only in the database, and verify_audit finds any tampering."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from agencies.audit.models import AuditAction, AuditEvent
from agencies.audit.trail import audit_record, verify_all
from portal.db.owner import owner_cursor

# The owner's own connection tampers, so the trail is committed rather than rolled back.
TAMPERING = pytest.mark.django_db(transaction=True)


@pytest.fixture
def trail(cast) -> list[AuditEvent]:
    return [audit_record(action=AuditAction.CASE_OPENED, agency=cast.agency, actor=cast.officer,
                         details={"case_number": f"2026-{n}"}) for n in range(5)]


def _with_trigger_disabled(sql: str, params: list[object]) -> None:
    """What only the tables' owner (a database superuser here) could do: switch the guard off,
    tamper, switch it on. The trail must be committed for the owner's connection to see it."""
    with owner_cursor() as cursor:
        cursor.execute("ALTER TABLE agencies_auditevent DISABLE TRIGGER agencies_auditevent_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE agencies_auditevent "
                       "ENABLE ALWAYS TRIGGER agencies_auditevent_append_only")


def test_the_application_cannot_switch_the_guard_off(trail) -> None:
    with pytest.raises(DatabaseError, match="must be owner"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute("ALTER TABLE agencies_auditevent DISABLE TRIGGER agencies_auditevent_append_only")


def _verify() -> str:
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_an_intact_trail_verifies(trail) -> None:
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "intact" in out.getvalue()
    assert [e.seq for e in trail] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in zip(trail, trail[1:], strict=False))


def test_the_database_refuses_to_update_an_event(trail) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=trail[1].pk).update(actor_name="mallory")


def test_the_database_refuses_to_delete_an_event(trail) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=trail[1].pk).delete()


@TAMPERING
def test_an_altered_event_is_named(trail) -> None:
    _with_trigger_disabled("UPDATE agencies_auditevent SET actor_name = 'mallory' WHERE id = %s",
                           [trail[2].pk])
    report = _verify()
    assert f"event {trail[2].pk}" in report and "altered" in report


@TAMPERING
def test_a_deleted_event_is_found(trail) -> None:
    _with_trigger_disabled("DELETE FROM agencies_auditevent WHERE id = %s", [trail[1].pk])
    report = _verify()
    assert f"event {trail[2].pk}" in report and "missing" in report


@TAMPERING
def test_a_deleted_last_event_is_found(trail) -> None:
    _with_trigger_disabled("DELETE FROM agencies_auditevent WHERE id = %s", [trail[-1].pk])
    assert "missing at the end" in _verify()


@TAMPERING
def test_reordered_events_are_found(trail) -> None:
    # Swap the positions of events 2 and 3, as if history had been rewritten.
    _with_trigger_disabled(
        "UPDATE agencies_auditevent SET seq = CASE WHEN id = %s THEN -1 ELSE seq END WHERE id = %s",
        [trail[1].pk, trail[1].pk])
    _with_trigger_disabled("UPDATE agencies_auditevent SET seq = 2 WHERE id = %s", [trail[2].pk])
    _with_trigger_disabled("UPDATE agencies_auditevent SET seq = 3 WHERE id = %s", [trail[1].pk])
    breaks = verify_all()
    assert len(breaks) == 1
    assert breaks[0].event_id == trail[2].pk


def test_chains_are_per_agency(cast, trail) -> None:
    other = audit_record(action=AuditAction.CASE_OPENED, agency=cast.other_agency,
                         actor=cast.other_officer)
    assert other.seq == 1 and other.chain == cast.other_agency.pk
    assert verify_all() == []

"""Tampering by the database's owner: the guards that hold even for them, and the signed
checkpoints outside the database that show what they could still rewrite."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from psycopg import errors

from agencies.audit.checkpoints import (
    CHECKPOINT_FILE,
    KEY_ENV,
    check_audit_guards,
    public_key_text,
    signed_message,
)
from agencies.audit.models import AuditAction, AuditChainHead, AuditEvent
from agencies.audit.trail import audit_record, event_digest
from agencies.tasks import sign_audit_checkpoints
from portal.db.owner import owner_cursor
from portal.devservices import ensure_audit_signing_key, generate_key_file

# The owner tampers over a connection of its own, so the trail must be committed first.
pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
GUARDS = {"agencies_auditevent": ["agencies_auditevent_append_only",
                                  "agencies_auditevent_no_truncate"],
          "agencies_auditchainhead": ["agencies_auditchainhead_forward",
                                      "agencies_auditchainhead_no_truncate"]}


@pytest.fixture(autouse=True)
def audit_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    key = tmp_path / "audit-signing-key.pem"
    generate_key_file(key)
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setitem(settings.CASEBOUND, "AUDIT_SIGNING_KEY_FILE", key)
    monkeypatch.setitem(settings.CASEBOUND, "AUDIT_CHECKPOINT_DIR", tmp_path / "checkpoints")
    return key


@pytest.fixture
def trail(cast) -> list[AuditEvent]:
    return [_event(cast) for _ in range(5)]


def _event(cast) -> AuditEvent:
    return audit_record(action=AuditAction.CASE_OPENED, agency=cast.agency, actor=cast.officer)


def _checkpoint() -> Path:
    call_command("audit_checkpoint", stdout=io.StringIO())
    return Path(settings.CASEBOUND["AUDIT_CHECKPOINT_DIR"]) / CHECKPOINT_FILE


def _verify(*args: str) -> str:
    """verify_audit must fail; what it reported."""
    err = io.StringIO()
    with pytest.raises(CommandError, match="does not verify"):
        call_command("verify_audit", *args, stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def _verifies(*args: str) -> str:
    out = io.StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _as_dba_with_guards_off(*statements: tuple[str, list[object]]) -> None:
    """What the owner can still do: switch the guards off, tamper, and switch them back on."""
    with owner_cursor() as cursor:
        for table in GUARDS:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for sql, params in statements:
            cursor.execute(sql, params)
        for table, triggers in GUARDS.items():
            for trigger in triggers:
                cursor.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}")


# --- What the database refuses even to its owner -----------------------------------------------


@pytest.fixture
def production_like_database() -> Iterator[None]:
    """The test database is declared disposable so that tests may empty it; undeclare it."""
    name = connection.settings_dict["NAME"]
    with owner_cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" RESET casebound.audit_disposable')
    yield
    with owner_cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" SET casebound.audit_disposable = on')


@pytest.mark.parametrize("table", ["agencies_auditevent", "agencies_auditchainhead",
                                   "agencies_auditcheckpoint"])
def test_the_owner_cannot_truncate_the_audit_tables(trail, production_like_database, table) -> None:
    with owner_cursor() as cursor, pytest.raises(errors.InsufficientPrivilege,
                                                 match="TRUNCATE refused"):
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert AuditEvent.objects.filter(chain=trail[0].chain).count() == 5


def test_the_replica_role_does_not_skip_the_guards(trail) -> None:
    with owner_cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
            cursor.execute("UPDATE agencies_auditevent SET actor_name = 'mallory' WHERE id = %s",
                           [trail[2].pk])
        with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
            cursor.execute("DELETE FROM agencies_auditevent WHERE id = %s", [trail[4].pk])
        with pytest.raises(errors.InsufficientPrivilege, match="only move forward"):
            cursor.execute("UPDATE agencies_auditchainhead SET seq = 3, hash = %s WHERE chain = %s",
                           [trail[2].hash, trail[0].chain])
    assert AuditEvent.objects.get(pk=trail[2].pk).actor_name == trail[2].actor_name


def test_the_chain_head_moves_only_forward_through_the_writer(cast, trail) -> None:
    chain = trail[0].chain
    with owner_cursor() as cursor:
        for sql, params in [
            ("UPDATE agencies_auditchainhead SET seq = 3, hash = %s WHERE chain = %s",
             [trail[2].hash, chain]),  # moved back onto a real event
            ("UPDATE agencies_auditchainhead SET seq = 6, hash = %s WHERE chain = %s",
             ["f" * 64, chain]),  # moved forward onto an event that does not exist
            ("DELETE FROM agencies_auditchainhead WHERE chain = %s", [chain]),
            ("INSERT INTO agencies_auditchainhead (chain, seq, hash) VALUES (%s, 9, %s)",
             [cast.other_agency.pk, trail[4].hash]),
        ]:
            with pytest.raises(errors.InsufficientPrivilege, match="only move forward"):
                cursor.execute(sql, params)
    assert _event(cast).seq == 6  # the audit writer itself still moves it
    assert AuditChainHead.objects.get(chain=chain).seq == 6


# --- What the signed checkpoints catch when the owner switched the guards off -------------------


def test_an_untouched_trail_verifies_against_its_checkpoints(cast, trail) -> None:
    checkpoints = _checkpoint()
    _event(cast)  # events after the last checkpoint are fine
    assert "against the signed checkpoints" in _verifies("--checkpoints", str(checkpoints))
    lines = [json.loads(line) for line in checkpoints.read_text().splitlines()]
    mine = next(line for line in lines if line["chain"] == cast.agency.pk)
    assert (mine["seq"], mine["hash"], mine["chain_name"]) == (5, trail[4].hash, cast.agency.name)


def test_a_consistent_rewrite_is_named_at_its_first_event(cast, trail) -> None:
    checkpoints = _checkpoint()
    _event(cast)
    _checkpoint()  # a second day's checkpoint signs only the events since the first
    _rewrite_from([*trail, AuditEvent.objects.get(chain=cast.agency.pk, seq=6)], 2,
                  actor_name="mallory")
    assert "intact" in _verifies()  # the chain alone is consistent again: only the checkpoints tell
    report = _verify("--checkpoints", str(checkpoints))
    assert f"chain {cast.agency.pk}, seq 3 (event {trail[2].pk}): it no longer matches" in report
    assert "rewritten from this event on" in report


def test_a_deleted_event_in_the_middle_is_named(cast, trail) -> None:
    checkpoints = _checkpoint()
    _as_dba_with_guards_off(("DELETE FROM agencies_auditevent WHERE id = %s", [trail[1].pk]))
    report = _verify("--checkpoints", str(checkpoints))
    assert f"chain {cast.agency.pk}, seq 2 (no longer in the database): event 2 is gone" in report


def _rewrite_from(events: list[AuditEvent], index: int, **changes: object) -> None:
    """Alter one event, then recompute every later hash and the head, as a careful DBA would."""
    statements = []
    previous = events[index - 1].hash
    for position, event in enumerate(events[index:]):
        event = AuditEvent.objects.get(pk=event.pk)
        if position == 0:
            for field, value in changes.items():
                setattr(event, field, value)
        event.prev_hash = previous
        event.hash = previous = event_digest(event)
        statements.append(("UPDATE agencies_auditevent SET actor_name = %s, prev_hash = %s, "
                           "hash = %s WHERE id = %s",
                           [event.actor_name, event.prev_hash, event.hash, event.pk]))
    statements.append(("UPDATE agencies_auditchainhead SET hash = %s WHERE chain = %s",
                       [previous, events[0].chain]))
    _as_dba_with_guards_off(*statements)


def test_a_deleted_tail_with_the_head_moved_back_is_found(cast, trail) -> None:
    checkpoints = _checkpoint()
    _as_dba_with_guards_off(
        ("DELETE FROM agencies_auditevent WHERE id = ANY(%s)", [[trail[3].pk, trail[4].pk]]),
        ("UPDATE agencies_auditchainhead SET seq = 3, hash = %s WHERE chain = %s",
         [trail[2].hash, cast.agency.pk]))
    assert "intact" in _verifies()
    report = _verify("--checkpoints", str(checkpoints))
    assert f"chain {cast.agency.pk}, seq 4 (no longer in the database): events 4..5 are gone" in report


def test_a_deleted_chain_is_found(cast, trail) -> None:
    checkpoints = _checkpoint()
    _as_dba_with_guards_off(
        ("DELETE FROM agencies_auditevent WHERE chain = %s", [cast.agency.pk]),
        ("DELETE FROM agencies_auditchainhead WHERE chain = %s", [cast.agency.pk]))
    assert "intact" in _verifies()
    report = _verify("--checkpoints", str(checkpoints))
    assert f"chain {cast.agency.pk}, seq 1 (no longer in the database): all 5 event(s) are gone" in report


def test_a_rewrite_after_a_deleted_tail_is_found_too(cast, trail) -> None:
    """Deleting the tail and appending new events brings the head back past the signed seq."""
    checkpoints = _checkpoint()
    _as_dba_with_guards_off(
        ("DELETE FROM agencies_auditevent WHERE id = %s", [trail[4].pk]),
        ("UPDATE agencies_auditchainhead SET seq = 4, hash = %s WHERE chain = %s",
         [trail[3].hash, cast.agency.pk]))
    replacement = _event(cast)
    report = _verify("--checkpoints", str(checkpoints))
    assert f"seq 5 (event {replacement.pk}): it no longer matches the checkpoint" in report


def test_a_forged_checkpoint_line_is_reported(cast, trail) -> None:
    checkpoints = _checkpoint()
    line = next(json.loads(t) for t in checkpoints.read_text().splitlines()
                if json.loads(t)["chain"] == cast.agency.pk)
    altered = {**line, "seq": 4, "hash": trail[3].hash}  # the signature was over seq 5
    other_key = Path(settings.CASEBOUND["AUDIT_SIGNING_KEY_FILE"]).with_name("mallory.pem")
    generate_key_file(other_key)
    with checkpoints.open("a") as handle:
        handle.write(json.dumps(altered) + "\n")
        handle.write(json.dumps(_signed_by(other_key, line)) + "\n")
        handle.write(json.dumps({**line, "links": [[1, "0" * 64], *line["links"][1:]]}) + "\n")
    report = _verify("--checkpoints", str(checkpoints))
    assert f"{checkpoints}:5: forged or damaged checkpoint: the signature does not verify" in report
    assert f"{checkpoints}:3: forged or damaged checkpoint: the signature does not verify" in report
    assert f"{checkpoints}:4: forged or damaged checkpoint: signed by a key that is not" in report


def _private_key(key_file: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def _signed_by(key_file: Path, line: dict[str, Any]) -> dict[str, Any]:
    key = _private_key(key_file)
    message = signed_message(chain=int(line["chain"]), seq=int(line["seq"]),
                             hash=str(line["hash"]), signed_at=str(line["signed_at"]),
                             links=[(int(seq), str(h)) for seq, h in line["links"]])
    return {**line, "public_key": public_key_text(key.public_key()),
            "signature": base64.b64encode(key.sign(message)).decode()}


def test_an_auditor_verifies_with_the_published_key_alone(cast, trail, audit_key,
                                                          monkeypatch) -> None:
    checkpoints = _checkpoint()
    page = Client().get("/transparency/").content.decode()
    public_key = page.split('class="audit-public-key">')[1].split("<")[0]
    monkeypatch.setitem(settings.CASEBOUND, "AUDIT_SIGNING_KEY_FILE", audit_key.with_name("none"))
    assert "intact" in _verifies("--checkpoints", str(checkpoints), "--public-key", public_key)
    other = audit_key.with_name("other.pem")
    generate_key_file(other)
    wrong = public_key_text(_private_key(other).public_key())
    assert "not the published audit key" in _verify("--checkpoints", str(checkpoints),
                                                    "--public-key", wrong)


def test_verify_without_a_key_or_a_file_says_what_to_do(trail, audit_key, monkeypatch) -> None:
    with pytest.raises(CommandError, match="No checkpoint file at"):
        call_command("verify_audit", "--checkpoints", "/nonexistent.jsonl", stdout=io.StringIO())
    checkpoints = _checkpoint()
    monkeypatch.setitem(settings.CASEBOUND, "AUDIT_SIGNING_KEY_FILE", audit_key.with_name("none"))
    with pytest.raises(CommandError, match="--public-key"):
        call_command("verify_audit", "--checkpoints", str(checkpoints), stdout=io.StringIO())


# --- Publishing, scheduling and the key ------------------------------------------------------


def test_the_transparency_page_publishes_each_chains_signed_head(cast, trail) -> None:
    assert "No checkpoint has been signed yet" in Client().get("/transparency/").content.decode()
    sign_audit_checkpoints()  # the daily beat task
    page = Client().get("/transparency/")
    html = page.content.decode()
    assert page.status_code == 200
    row = html.split(f"<td>{cast.agency.name}</td>")[1].split("</tr>")[0]
    assert '<td class="num">5</td>' in row and trail[4].hash[:16] in row
    assert trail[4].hash[16:] not in html
    assert "audit-public-key" in html and "Platform" in html


def test_the_checkpoint_job_runs_daily() -> None:
    schedule = settings.CELERY_BEAT_SCHEDULE["sign-audit-checkpoints"]
    assert schedule["task"] == "agencies.tasks.sign_audit_checkpoints"


def test_the_set_up_creates_a_private_key_once(tmp_path) -> None:
    key = tmp_path / "var" / "audit-signing-key.pem"
    ensure_audit_signing_key({"CASEBOUND_AUDIT_SIGNING_KEY_FILE": str(key)})
    first = key.read_bytes()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and b"PRIVATE KEY" in first
    ensure_audit_signing_key({"CASEBOUND_AUDIT_SIGNING_KEY_FILE": str(key)})
    assert key.read_bytes() == first


def test_production_settings_require_the_key(tmp_path) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.production",
           "DJANGO_SECRET_KEY": "k3y-" + "x7Qp2vLm9RtZ" * 5, "ALLOWED_HOSTS": "example.org",
           "CASEBOUND_SITE_URL": "https://example.org",
           "CASEBOUND_AUDIT_SIGNING_KEY_FILE": str(tmp_path / "missing.pem")}
    env.pop(KEY_ENV, None)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "No audit signing key" in result.stderr


def test_the_deploy_check_names_a_guard_that_is_off(production_like_database) -> None:
    assert check_audit_guards(databases=["default"]) == []
    with owner_cursor() as cursor:
        cursor.execute("ALTER TABLE agencies_auditevent ENABLE TRIGGER agencies_auditevent_append_only")
    try:
        [warning] = check_audit_guards(databases=["default"])
    finally:
        with owner_cursor() as cursor:
            cursor.execute("ALTER TABLE agencies_auditevent "
                           "ENABLE ALWAYS TRIGGER agencies_auditevent_append_only")
    assert warning.id == "casebound.W003" and "agencies_auditevent_append_only" in warning.msg


def test_the_deploy_check_warns_of_a_disposable_database() -> None:
    [warning] = check_audit_guards(databases=["default"])  # the test database is declared so
    assert "disposable" in warning.msg


@pytest.mark.browser
def test_a_visitor_reads_the_signed_heads_in_a_browser(cast, trail, browser, live_server) -> None:
    from playwright.sync_api import expect

    sign_audit_checkpoints()
    page = browser.new_context(base_url=live_server.url).new_page()
    page.goto("/transparency/")
    expect(page.get_by_role("heading", name="Signed audit checkpoints")).to_be_visible()
    table = page.get_by_role("table", name="Latest signed head of each chain")
    expect(table.get_by_role("row", name=f"{cast.agency.name} 5 {trail[4].hash[:16]}",
                             exact=False)).to_be_visible()

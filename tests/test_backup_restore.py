"""Backup and restore, round trip with the real services: a populated installation is backed up
with `manage.py backup`, restored with `manage.py restore` into a second, empty database of the
same cluster and an empty media folder; there the audit trail verifies (also against the signed
checkpoints) and the same probe finds the same candidates. The commands run as subprocesses, as
an operator runs them, with the installation chosen by environment variables."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from psycopg import sql

from agencies.audit.models import AuditChainHead
from portal.db.owner import owner_connection
from portal.devservices import generate_key_file
from search.services import searching
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import enroll_people

ROOT = Path(__file__).resolve().parent.parent
CASE_NUMBER = "2026-0777"
PROBE = ("Ariel_Sharon", 2)
# Run in the restored installation: the officer searches the same case with the same probe.
SEARCH_THERE = """
import json, sys, django
django.setup()
from agencies.audit.models import AuditAction, AuditEvent
from portal.db import scope
from search.models import Case
from search.services import searching
with scope.rows(scope.EVERYTHING):
    restores = AuditEvent.objects.filter(action=AuditAction.BACKUP_RESTORED, chain=0).count()
    case = Case.objects.get(case_number=sys.argv[1])
    with open(sys.argv[2], "rb") as handle:
        found = searching.search_create(case=case, user=case.opened_by, probe=handle.read())
    searching.search_run(search_id=found.pk)
    print(json.dumps({"restores": restores, "candidates": [
        [c.rank, c.subject.reference, c.similarity] for c in found.candidates.order_by("rank")]}))
"""


def _manage(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


@contextlib.contextmanager
def _empty_database(name: str) -> Iterator[str]:
    """A second database in the same cluster, as an empty installation has."""
    with owner_connection() as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with owner_connection() as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@pytest.fixture
def installation(cast: Any, tmp_path: Path, settings: Any) -> dict[str, Any]:
    """A populated installation with its own media folder: faces enrolled, one search done,
    its audit chains signed at a checkpoint."""
    media = tmp_path / "source-media"
    settings.PRIVATE_MEDIA_ROOT = media
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": media, "base_url": None}}}
    enroll_people(GalleryFactory(agency=cast.agency), count=3)
    case = assigned_case(cast.agency, cast.officer, case_number=CASE_NUMBER)
    search = searching.search_create(case=case, user=cast.officer, probe=photos.photo(*PROBE))
    searching.search_run(search_id=search.pk)
    key = tmp_path / "audit-signing-key.pem"
    generate_key_file(key)
    base = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.test",
            "CASEBOUND_AUDIT_SIGNING_KEY_FILE": str(key)}
    env = {**base, "CASEBOUND_DB_NAME": settings.DATABASES["default"]["NAME"],
           "CASEBOUND_MEDIA_ROOT": str(media),
           "CASEBOUND_AUDIT_CHECKPOINT_DIR": str(tmp_path / "source-checkpoints")}
    _manage(env, "audit_checkpoint")
    candidates = [[c.rank, c.subject.reference, c.similarity]
                  for c in search.candidates.order_by("rank")]
    return {"env": env, "base": base, "candidates": candidates}


@pytest.mark.django_db(transaction=True)
def test_a_backup_restored_into_an_empty_installation_verifies_and_finds_the_same_faces(
        installation: dict[str, Any], tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    _manage(installation["env"], "backup", str(backup))
    manifest = json.loads((backup / "manifest.json").read_text())
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in backup.iterdir()} == {0o600}
    assert set(manifest["files"]) == {"database.dump", "media.tar", "checkpoints.jsonl"}
    assert "search.0001_initial" in manifest["migrations"]
    heads = {h["chain"]: h["seq"] for h in manifest["audit"]["chain_heads"]}
    assert heads == dict(AuditChainHead.objects.values_list("chain", "seq"))  # nothing after
    assert manifest["audit"]["latest_checkpoints"]

    target = f"{settings.DATABASES['default']['NAME']}_restored"
    with _empty_database(target):
        env = {**installation["base"], "CASEBOUND_DB_NAME": target,
               "CASEBOUND_MEDIA_ROOT": str(tmp_path / "restored-media"),
               "CASEBOUND_AUDIT_CHECKPOINT_DIR": str(tmp_path / "restored-checkpoints")}
        restored = _manage(env, "restore", str(backup))
        assert "heads as in the manifest" in restored.stdout
        assert any((tmp_path / "restored-media").rglob("*.jpg"))
        _manage(env, "verify_audit")
        checked = _manage(env, "verify_audit", "--checkpoints",
                          str(tmp_path / "restored-checkpoints" / "checkpoints.jsonl"))
        assert "against the signed checkpoints" in checked.stdout

        probe = tmp_path / "probe.jpg"
        probe.write_bytes(photos.photo(*PROBE))
        found = subprocess.run([sys.executable, "-c", SEARCH_THERE, CASE_NUMBER, str(probe)],
                               env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
                               check=True)
        there = json.loads(found.stdout.strip().splitlines()[-1])
        assert there["candidates"] == installation["candidates"]
        assert there["restores"] == 1  # the restored trail records the restore itself
        assert installation["candidates"][0][1] == PROBE[0]

        again = _manage(env, "restore", str(backup), ok=False)  # the database is not empty now
        assert "already holds" in again.stderr and "--replace" in again.stderr
        # Told to, it overwrites: back to the backup's trail, without what happened since.
        replaced = _manage(env, "restore", "--replace", str(backup))
        assert "heads as in the manifest" in replaced.stdout
        _manage(env, "verify_audit")


@pytest.mark.django_db(transaction=True)
def test_a_backup_refuses_a_folder_that_is_not_empty(installation: dict[str, Any],
                                                     tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "old.txt").write_text("an earlier backup")
    refused = _manage(installation["env"], "backup", str(backup), ok=False)
    assert "is not an empty folder" in refused.stderr
    assert sorted(p.name for p in backup.iterdir()) == ["old.txt"]


@pytest.mark.django_db(transaction=True)
def test_a_changed_byte_is_refused_naming_the_file_before_anything_is_restored(
        installation: dict[str, Any], tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    _manage(installation["env"], "backup", str(backup))
    tampered = tmp_path / "tampered"
    shutil.copytree(backup, tampered)
    media = bytearray((tampered / "media.tar").read_bytes())
    media[len(media) // 2] ^= 0x01
    (tampered / "media.tar").write_bytes(bytes(media))

    target = f"{settings.DATABASES['default']['NAME']}_tampered"
    with _empty_database(target):
        env = {**installation["base"], "CASEBOUND_DB_NAME": target,
               "CASEBOUND_MEDIA_ROOT": str(tmp_path / "restored-media")}
        refused = _manage(env, "restore", str(tampered), ok=False)
        assert "media.tar does not match its checksum" in refused.stderr
        assert not (tmp_path / "restored-media").exists()
        _manage(env, "restore", "--check", str(backup))  # the untouched copy is whole


@pytest.mark.django_db(transaction=True)
def test_a_restore_refuses_a_database_that_is_not_empty(installation: dict[str, Any],
                                                        tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    _manage(installation["env"], "backup", str(backup))
    env = {**installation["env"], "CASEBOUND_MEDIA_ROOT": str(tmp_path / "empty-media")}
    refused = _manage(env, "restore", str(backup), ok=False)  # the populated test database
    assert "already holds" in refused.stderr

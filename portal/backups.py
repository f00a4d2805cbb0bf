"""Backup and restore of one installation: the database, the private media and a manifest.

A backup folder holds `database.dump` (pg_dump, custom format), `media.tar` (every file under
PRIVATE_MEDIA_ROOT: probes, face chips, opt-out photos), `checkpoints.jsonl` when the signed audit
checkpoints exist, and `manifest.json`: the version, the applied migrations, the time, each file's
size and SHA-256, and the audit chain heads and latest signed checkpoints read in the very
snapshot pg_dump saves, so a restore can prove it brought back exactly that trail.

pg_dump and pg_restore run as the tables' owner (CASEBOUND_OWNER_DATABASE_URL): the tables force
row-level security, so the owner must be a superuser or have BYPASSRLS, or the dump would be
refused (never silently partial). The binaries are CASEBOUND_PG_BIN_DIR's, else the embedded
server's, else those on PATH.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone

from portal.db.owner import owner_connection, owner_credentials

MANIFEST = "manifest.json"
DATABASE_FILE = "database.dump"
MEDIA_FILE = "media.tar"
CHECKPOINTS_FILE = "checkpoints.jsonl"
FORMAT = 1
CHUNK = 1024 * 1024

HEADS_SQL = "SELECT chain, seq, hash FROM agencies_auditchainhead ORDER BY chain"
CHECKPOINTS_SQL = """
SELECT DISTINCT ON (chain) chain, seq, hash, signed_at, public_key, signature
FROM agencies_auditcheckpoint ORDER BY chain, signed_at DESC, id DESC
"""
MIGRATIONS_SQL = "SELECT app, name FROM django_migrations ORDER BY id"


class BackupError(Exception):
    """What is wrong, said so that the operator knows what to do."""


# --- where things are ------------------------------------------------------------------------


def pg_program(name: str) -> str:
    """The path of pg_dump or pg_restore."""
    configured = os.environ.get("CASEBOUND_PG_BIN_DIR")
    if configured:
        return str(Path(configured) / name)
    from portal.devservices import embedded_pg_bin_dir

    embedded = embedded_pg_bin_dir()
    if embedded is not None and (embedded / name).exists():
        return str(embedded / name)
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} was not found: install the PostgreSQL client programs of the "
                          "server's version or set CASEBOUND_PG_BIN_DIR.")
    return found


def _libpq_env() -> dict[str, str]:
    """The owner's connection for the PostgreSQL programs, as libpq environment variables."""
    owner = owner_credentials()
    values = {"PGHOST": owner["HOST"], "PGPORT": owner["PORT"], "PGUSER": owner["USER"],
              "PGPASSWORD": owner["PASSWORD"],
              "PGDATABASE": connections["default"].settings_dict["NAME"]}
    return {**os.environ, **{key: str(value) for key, value in values.items() if value}}


def media_root() -> Path:
    return Path(settings.PRIVATE_MEDIA_ROOT)


def checkpoint_file() -> Path:
    return Path(settings.CASEBOUND["AUDIT_CHECKPOINT_DIR"]) / CHECKPOINTS_FILE


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _one(cursor: Any) -> Any:
    row = cursor.fetchone()
    assert row is not None  # noqa: S101  (an aggregate or SHOW always answers one row)
    return row[0]


def _run(command: list[str]) -> None:
    done = subprocess.run(command, env=_libpq_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-2000:]}")


# --- backup ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _exported_snapshot() -> Iterator[tuple[str, dict[str, Any]]]:
    """A snapshot of the database held open, and what the manifest reads in it."""
    with owner_connection() as connection, connection.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor.execute("SELECT set_config('casebound.bypass', 'on', true)")  # see every chain
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = _one(cursor)
        cursor.execute(HEADS_SQL)
        heads = [{"chain": c, "seq": s, "hash": h} for c, s, h in cursor.fetchall()]
        cursor.execute(CHECKPOINTS_SQL)
        latest = [{"chain": c, "seq": s, "hash": h, "signed_at": at.isoformat(),
                   "public_key": key, "signature": sig} for c, s, h, at, key, sig in cursor.fetchall()]
        cursor.execute(MIGRATIONS_SQL)
        migrations = [f"{app}.{name}" for app, name in cursor.fetchall()]
        cursor.execute("SHOW server_version")
        server = _one(cursor)
        yield snapshot, {"migrations": migrations, "postgres": server,
                         "audit": {"chain_heads": heads, "latest_checkpoints": latest}}
        cursor.execute("COMMIT")


def _tar_media(target: Path) -> None:
    root = media_root()
    with tarfile.open(target, "w") as archive:
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    archive.add(path, arcname=str(path.relative_to(root)), recursive=False)


def backup_create(folder: Path) -> dict[str, Any]:
    """Write a backup into `folder`, which must be empty or absent; return the manifest."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BackupError(f"{folder} is not an empty folder. Give a new or empty folder, so that "
                          "no earlier backup is mixed into this one.")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # biometric data: the operator's account only
    with _exported_snapshot() as (snapshot, facts):
        _run([pg_program("pg_dump"), "--format=custom", f"--snapshot={snapshot}",
              f"--file={folder / DATABASE_FILE}"])
    _tar_media(folder / MEDIA_FILE)  # after the snapshot: a file purged meanwhile may be missing
    if checkpoint_file().is_file():
        shutil.copyfile(checkpoint_file(), folder / CHECKPOINTS_FILE)
    names = [DATABASE_FILE, MEDIA_FILE] + ([CHECKPOINTS_FILE] if checkpoint_file().is_file() else [])
    manifest = {"format": FORMAT, "casebound_version": version("casebound"),
                "created_at": timezone.now().isoformat(), **facts,
                "files": {name: {"bytes": (folder / name).stat().st_size,
                                 "sha256": sha256_of(folder / name)} for name in names}}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    for path in folder.iterdir():
        path.chmod(0o600)
    return manifest


# --- restore ---------------------------------------------------------------------------------


@dataclass
class Restored:
    manifest: dict[str, Any]
    manifest_sha256: str
    media_files: int
    checkpoints: str  # what became of the checkpoint file


def backup_verify(folder: Path) -> dict[str, Any]:
    """The backup's manifest, once every file it lists has its size and checksum."""
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupError(f"{folder} holds no {MANIFEST}: it is not a Casebound backup.")
    try:
        manifest = json.loads(path.read_text())
        files = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{path} cannot be read ({exc}); the backup is damaged.") from exc
    for name, expected in files.items():
        file = folder / Path(name).name
        if not file.is_file():
            raise BackupError(f"{name} is missing from the backup; it cannot be restored.")
        if file.stat().st_size != expected["bytes"] or sha256_of(file) != expected["sha256"]:
            raise BackupError(f"{name} does not match its checksum in {MANIFEST}: the file was "
                              "changed or damaged. Restore from another copy of the backup.")
    if manifest.get("format") != FORMAT or DATABASE_FILE not in files or MEDIA_FILE not in files:
        raise BackupError(f"{MANIFEST} is not of a backup this version can restore.")
    return dict(manifest)


def _database_tables() -> int:
    with owner_connection() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        return int(_one(cursor))


def _restored_heads() -> list[dict[str, Any]]:
    with owner_connection() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT set_config('casebound.bypass', 'on', false)")
        cursor.execute(HEADS_SQL)
        return [{"chain": c, "seq": s, "hash": h} for c, s, h in cursor.fetchall()]


def backup_restore(folder: Path, *, replace: bool = False) -> Restored:
    """Restore a verified backup into this installation's database and media folder.

    Both must be empty unless `replace`: then the database's objects named in the backup are
    dropped and made again, and media files of the same name are overwritten.
    """
    manifest = backup_verify(folder)
    tables, media = _database_tables(), media_root()
    if tables and not replace:
        raise BackupError(f"The database {connections['default'].settings_dict['NAME']} already "
                          f"holds {tables} tables. Restore into an empty database, or pass "
                          "--replace to overwrite it.")
    if media.is_dir() and any(media.iterdir()) and not replace:
        raise BackupError(f"The media folder {media} is not empty. Restore into an empty one "
                          "(CASEBOUND_MEDIA_ROOT), or pass --replace to overwrite it.")
    _run([pg_program("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction",
          *(["--clean", "--if-exists"] if replace else []),
          f"--dbname={_libpq_env()['PGDATABASE']}", str(folder / DATABASE_FILE)])
    if _restored_heads() != manifest["audit"]["chain_heads"]:
        raise BackupError("The restored audit chain heads differ from the manifest's; do not use "
                          "this database, and report it.")
    media.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / MEDIA_FILE) as archive:
        members = archive.getmembers()
        archive.extractall(media, filter="data")  # no absolute paths, links or ".." escape it
    return Restored(manifest, sha256_of(folder / MANIFEST), len(members),
                    _restore_checkpoints(folder))


def _restore_checkpoints(folder: Path) -> str:
    """Put the backup's signed checkpoints where verify_audit and the daily job look, unless a
    file is there already (it is the operator's evidence: never overwritten)."""
    source, target = folder / CHECKPOINTS_FILE, checkpoint_file()
    if not source.is_file():
        return "the backup holds no audit checkpoints"
    if target.exists():
        return f"{target} exists and was left alone; the backup's copy is {source}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return f"audit checkpoints restored to {target}"

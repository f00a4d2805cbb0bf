"""Signed checkpoints of the audit chains, kept outside the database.

The hash chains show tampering by anyone who cannot rewrite them consistently; the database's
owner can (recompute every later hash and move the head). A daily job therefore signs every
chain's head with an Ed25519 key that lives outside Postgres and appends the signed heads to a
JSON-lines file the operator archives. `verify_audit --checkpoints FILE` then holds the database
to every signed head: a rewritten, shortened or deleted chain no longer matches what was signed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.checks import CheckMessage, Warning
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, transaction
from django.utils import timezone

from agencies.audit.models import AuditChainHead, AuditCheckpoint, AuditEvent
from agencies.audit.trail import PLATFORM_CHAIN, Break
from agencies.tenancy.models import Agency
from portal.config import setting

KEY_ENV = "CASEBOUND_AUDIT_SIGNING_KEY"  # a PEM secret, preferred to the key file when set
CHECKPOINT_FILE = "checkpoints.jsonl"


# --- The key ------------------------------------------------------------------------------------


def signing_key() -> Ed25519PrivateKey:
    """The checkpoint key: the environment secret if set, else the key file."""
    pem = os.environ.get(KEY_ENV, "").encode()
    path = Path(setting("AUDIT_SIGNING_KEY_FILE"))
    if not pem:
        if not path.exists():
            raise ImproperlyConfigured(
                f"No audit signing key: set {KEY_ENV} or create {path} "
                "(`python -m portal.devservices exec -- true` creates one for development).")
        pem = path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("The audit signing key must be an Ed25519 private key.")
    return key


def public_key_text(key: Ed25519PublicKey) -> str:
    """The public key as base64 of its 32 raw bytes, the form published on /transparency/."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


Links = list[tuple[int, str]]


def signed_message(*, chain: int, seq: int, hash: str, signed_at: str, links: Links) -> bytes:
    """Exactly the bytes a checkpoint's signature covers: the head, the time, and the (seq, hash)
    of every event since the chain's previous checkpoint, so a rewrite is named to the event."""
    return _message(chain, seq, hash, signed_at, links_digest(links))


def links_digest(links: Links) -> str:
    return hashlib.sha256(_canonical([list(link) for link in links])).hexdigest()


def _message(chain: int, seq: int, hash: str, signed_at: str, links: str) -> bytes:
    return _canonical({"chain": chain, "seq": seq, "hash": hash, "signed_at": signed_at,
                       "links": links})


def row_verifies(row: AuditCheckpoint, public_key: str) -> bool:
    """Whether a checkpoint row was signed by this key. The application's database role can
    insert rows; only rows that verify are published or trusted as a chain's last checkpoint."""
    if row.public_key != public_key or not row.links_sha256:
        return False
    message = _message(row.chain, row.seq, row.hash, row.signed_at.isoformat(), row.links_sha256)
    try:
        load_public_key(public_key).verify(base64.b64decode(row.signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _verified_rows(public_key: str, **match: Any) -> Iterator[AuditCheckpoint]:
    """The checkpoint rows that verify, newest head first."""
    rows = AuditCheckpoint.objects.filter(**match).order_by("chain", "-seq", "-signed_at", "-pk")
    return (row for row in rows.iterator() if row_verifies(row, public_key))


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


# --- Signing --------------------------------------------------------------------------------------


def checkpoint_dir() -> Path:
    return Path(setting("AUDIT_CHECKPOINT_DIR"))


def _chain_name(chain: int, names: dict[int, str]) -> str:
    return "Platform" if chain == PLATFORM_CHAIN else names.get(chain, f"chain {chain}")


@transaction.atomic
def audit_checkpoints_sign(*, directory: Path | None = None) -> list[AuditCheckpoint]:
    """Sign every chain's head; append the lines to the checkpoint file and publish the rows.

    Runs in the platform bypass (it reads every agency's head). The file is written and synced
    before the rows commit: a published checkpoint is always in the file the operator archives.
    """
    key, now = signing_key(), timezone.now()
    public = public_key_text(key.public_key())
    names = dict(Agency.objects.values_list("pk", "name"))
    signed: list[tuple[AuditCheckpoint, Links]] = []
    for head in AuditChainHead.objects.select_for_update().order_by("chain"):
        links = _links_since_last_checkpoint(head, public)
        message = signed_message(chain=head.chain, seq=head.seq, hash=head.hash,
                                 signed_at=now.isoformat(), links=links)
        signed.append((AuditCheckpoint(
            chain=head.chain, chain_name=_chain_name(head.chain, names), seq=head.seq,
            hash=head.hash, signed_at=now, public_key=public, links_sha256=links_digest(links),
            signature=base64.b64encode(key.sign(message)).decode()), links))
    _append_lines((directory or checkpoint_dir()) / CHECKPOINT_FILE, signed)
    return AuditCheckpoint.objects.bulk_create([checkpoint for checkpoint, _ in signed])


def _links_since_last_checkpoint(head: AuditChainHead, public_key: str) -> Links:
    last = next(_verified_rows(public_key, chain=head.chain, seq__lte=head.seq), None)
    previous = last.seq if last else 0
    return list(AuditEvent.objects.filter(chain=head.chain, seq__gt=previous, seq__lte=head.seq)
                .order_by("seq").values_list("seq", "hash"))


def checkpoint_line(checkpoint: AuditCheckpoint, links: Links) -> dict[str, Any]:
    return {"chain": checkpoint.chain, "chain_name": checkpoint.chain_name, "seq": checkpoint.seq,
            "hash": checkpoint.hash, "signed_at": checkpoint.signed_at.isoformat(),
            "links": [list(link) for link in links], "public_key": checkpoint.public_key,
            "signature": checkpoint.signature}


def _append_lines(path: Path, signed: list[tuple[AuditCheckpoint, Links]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for checkpoint, links in signed:
            handle.write(json.dumps(checkpoint_line(checkpoint, links), sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


# --- Verifying -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signed:
    """One checkpoint line whose signature verified."""

    line: int
    chain: int
    seq: int
    hash: str
    signed_at: str
    links: Links


def read_checkpoints(path: Path, trusted: set[str]) -> tuple[list[Signed], list[str]]:
    """The lines of a checkpoint file whose signature a trusted key verifies, and the problems
    with the others (unreadable, signed by an unknown key, or a signature that does not verify)."""
    signed, problems = [], []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            signed.append(_verified_line(number, json.loads(text), trusted))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"{path}:{number}: forged or damaged checkpoint: {exc}")
    return signed, problems


def _verified_line(number: int, line: dict[str, Any], trusted: set[str]) -> Signed:
    if line["public_key"] not in trusted:
        raise ValueError("signed by a key that is not the published audit key")
    checkpoint = Signed(number, int(line["chain"]), int(line["seq"]), str(line["hash"]),
                        str(line["signed_at"]), [(int(s), str(h)) for s, h in line["links"]])
    datetime.fromisoformat(checkpoint.signed_at)
    message = signed_message(chain=checkpoint.chain, seq=checkpoint.seq, hash=checkpoint.hash,
                             signed_at=checkpoint.signed_at, links=checkpoint.links)
    try:
        load_public_key(line["public_key"]).verify(base64.b64decode(line["signature"]), message)
    except InvalidSignature:
        raise ValueError("the signature does not verify with the published audit key") from None
    return checkpoint


def verify_against(checkpoints: list[Signed]) -> list[Break]:
    """For each chain, the first signed event the database no longer holds as signed."""
    by_chain: dict[int, dict[int, tuple[str, Signed]]] = {}
    for checkpoint in checkpoints:
        expected = by_chain.setdefault(checkpoint.chain, {})
        for seq, link_hash in [*checkpoint.links, (checkpoint.seq, checkpoint.hash)]:
            if seq:  # seq 0: a chain head before its first event
                expected[seq] = (link_hash, checkpoint)
    breaks = [_first_mismatch(chain, expected) for chain, expected in sorted(by_chain.items())]
    return [b for b in breaks if b is not None]


def _first_mismatch(chain: int, expected: dict[int, tuple[str, Signed]]) -> Break | None:
    """Walk the chain's events in order beside the signed (seq, hash) pairs."""
    pending = sorted(expected)
    events = AuditEvent.objects.filter(chain=chain, seq__lte=pending[-1]).order_by("seq")
    index = 0
    for seq, stored_hash, event_id in events.values_list("seq", "hash", "pk").iterator():
        if pending[index] < seq:
            break
        if pending[index] == seq:
            if stored_hash != expected[seq][0]:
                return _rewritten(chain, seq, event_id, expected[seq][1])
            index += 1
            if index == len(pending):
                return None
    last = AuditEvent.objects.filter(chain=chain).order_by("-seq").values_list("seq", flat=True)
    return _missing(chain, pending[index], expected[pending[index]][1], held=last.first() or 0,
                    signed=pending[-1])


def _missing(chain: int, seq: int, checkpoint: Signed, *, held: int, signed: int) -> Break:
    what = (f"all {signed} event(s) are gone" if held == 0 else
            f"events {seq}..{signed} are gone" if seq > held else f"event {seq} is gone")
    return Break(chain, seq, None, f"{what}, but the checkpoint signed at {checkpoint.signed_at} "
                 f"(line {checkpoint.line}) records it", place="no longer in the database")


def _rewritten(chain: int, seq: int, event_id: int, checkpoint: Signed) -> Break:
    return Break(chain, seq, event_id, "it no longer matches the checkpoint signed at "
                 f"{checkpoint.signed_at} (line {checkpoint.line}): the chain was rewritten from "
                 "this event on")


def published_checkpoints() -> list[AuditCheckpoint]:
    """The latest head of every chain signed with this installation's key, for the public
    transparency page (a row that does not verify is never shown)."""
    public, latest = public_key_text(signing_key().public_key()), {}
    rows = AuditCheckpoint.objects.order_by("chain", "-seq", "-signed_at", "-pk")
    for row in rows.iterator():  # newest first per chain: verify only until one holds
        if row.chain not in latest and row_verifies(row, public):
            latest[row.chain] = row
    return sorted(latest.values(), key=lambda c: (c.chain != PLATFORM_CHAIN, c.chain_name))


# --- Deployment check -------------------------------------------------------------------------

GUARD_TRIGGERS = ["agencies_auditevent_append_only", "agencies_auditevent_no_truncate",
                  "agencies_auditchainhead_forward", "agencies_auditchainhead_no_truncate",
                  "agencies_auditcheckpoint_append_only", "agencies_auditcheckpoint_no_truncate"]
GUARDS_SQL = """
SELECT array(SELECT name FROM unnest(%s::text[]) AS name WHERE NOT EXISTS (
           SELECT 1 FROM pg_trigger t WHERE t.tgname = name AND t.tgenabled = 'A')),
       EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
               WHERE d.datname = current_database() AND s.setrole = 0
               AND 'casebound.audit_disposable=on' = ANY (s.setconfig))
"""


def check_audit_guards(app_configs: Any = None, databases: Any = None,
                       **kwargs: Any) -> list[CheckMessage]:
    """`manage.py check --deploy --database default`: every audit guard is on, for every session."""
    if not databases or "default" not in databases:
        return []
    with connections["default"].cursor() as cursor:
        cursor.execute(GUARDS_SQL, [GUARD_TRIGGERS])
        missing, disposable = cursor.fetchone()
    problems = [f"trigger {name} is missing, disabled or not ENABLE ALWAYS" for name in missing]
    if disposable:
        problems.append("the database is declared disposable (casebound.audit_disposable), so "
                        "the audit tables may be truncated")
    return [Warning(f"Audit trail guard: {problem}.", id="casebound.W003", hint=(
        "Run `manage.py migrate` as the owner, or `ALTER DATABASE ... RESET "
        "casebound.audit_disposable`; then `manage.py verify_audit --checkpoints FILE`."))
        for problem in problems]

"""Signed checkpoints of the audit chains, kept outside the database.

The hash chains show tampering by anyone who cannot rewrite them consistently; the database's
owner can (recompute every later hash and move the head). A daily job therefore signs every
chain's head with an Ed25519 key that lives outside Postgres and appends the signed heads to a
JSON-lines file the operator archives. `verify_audit --checkpoints FILE` then holds the database
to every signed head: a rewritten, shortened or deleted chain no longer matches what was signed.
"""

from __future__ import annotations

import base64
import json
import os
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

from agencies.audit import PLATFORM_CHAIN, Break
from agencies.models import Agency, AuditChainHead, AuditCheckpoint, AuditEvent
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


def signed_message(*, chain: int, seq: int, hash: str, signed_at: str) -> bytes:
    """Exactly the bytes a checkpoint's signature covers."""
    body = {"chain": chain, "seq": seq, "hash": hash, "signed_at": signed_at}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


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
    checkpoints = []
    for head in AuditChainHead.objects.select_for_update().order_by("chain"):
        signed_at = now.isoformat()
        message = signed_message(chain=head.chain, seq=head.seq, hash=head.hash, signed_at=signed_at)
        checkpoints.append(AuditCheckpoint(
            chain=head.chain, chain_name=_chain_name(head.chain, names), seq=head.seq,
            hash=head.hash, signed_at=now, public_key=public,
            signature=base64.b64encode(key.sign(message)).decode()))
    _append_lines((directory or checkpoint_dir()) / CHECKPOINT_FILE, checkpoints)
    return AuditCheckpoint.objects.bulk_create(checkpoints)


def checkpoint_line(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    return {"chain": checkpoint.chain, "chain_name": checkpoint.chain_name, "seq": checkpoint.seq,
            "hash": checkpoint.hash, "signed_at": checkpoint.signed_at.isoformat(),
            "public_key": checkpoint.public_key, "signature": checkpoint.signature}


def _append_lines(path: Path, checkpoints: list[AuditCheckpoint]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for checkpoint in checkpoints:
            handle.write(json.dumps(checkpoint_line(checkpoint), sort_keys=True) + "\n")
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


def read_checkpoints(path: Path, trusted: set[str]) -> tuple[list[Signed], list[str]]:
    """The lines of a checkpoint file whose signature a trusted key verifies, and the problems
    with the others (unreadable, signed by an unknown key, or a signature that does not verify)."""
    signed, problems = [], []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            signed.append(_verified_line(number, json.loads(text), trusted))
        except (ValueError, KeyError, TypeError, InvalidSignature) as exc:
            problems.append(f"{path}:{number}: forged or damaged checkpoint: {exc or 'bad signature'}")
    return signed, problems


def _verified_line(number: int, line: dict[str, Any], trusted: set[str]) -> Signed:
    if line["public_key"] not in trusted:
        raise ValueError("signed by a key that is not the published audit key")
    checkpoint = Signed(number, int(line["chain"]), int(line["seq"]), str(line["hash"]),
                        str(line["signed_at"]))
    datetime.fromisoformat(checkpoint.signed_at)
    message = signed_message(chain=checkpoint.chain, seq=checkpoint.seq, hash=checkpoint.hash,
                             signed_at=checkpoint.signed_at)
    try:
        load_public_key(line["public_key"]).verify(base64.b64decode(line["signature"]), message)
    except InvalidSignature:
        raise ValueError("the signature does not verify with the published audit key") from None
    return checkpoint


def verify_against(checkpoints: list[Signed]) -> list[Break]:
    """For each chain, the first signed head the database no longer holds (None if all match)."""
    by_chain: dict[int, list[Signed]] = {}
    for checkpoint in checkpoints:
        by_chain.setdefault(checkpoint.chain, []).append(checkpoint)
    breaks = [_first_mismatch(chain, sorted(signed, key=lambda c: c.seq))
              for chain, signed in sorted(by_chain.items())]
    return [b for b in breaks if b is not None]


def _first_mismatch(chain: int, signed: list[Signed]) -> Break | None:
    stored = dict(AuditEvent.objects.filter(chain=chain, seq__in=[c.seq for c in signed if c.seq])
                  .values_list("seq", "hash"))
    last_seq = AuditEvent.objects.filter(chain=chain).order_by("-seq").values_list("seq", flat=True)
    held = last_seq.first() or 0
    matched = 0
    for checkpoint in signed:
        if checkpoint.seq and checkpoint.seq > held:
            return _missing(chain, checkpoint, held)
        if checkpoint.seq and stored.get(checkpoint.seq) != checkpoint.hash:
            return _rewritten(chain, checkpoint, matched)
        matched = checkpoint.seq
    return None


def _missing(chain: int, checkpoint: Signed, held: int) -> Break:
    what = (f"all {checkpoint.seq} event(s) are gone" if held == 0 else
            f"events {held + 1}..{checkpoint.seq} are gone")
    return Break(chain, held + 1, None, f"{what}, but a checkpoint signed at "
                 f"{checkpoint.signed_at} (line {checkpoint.line}) records seq {checkpoint.seq}")


def _rewritten(chain: int, checkpoint: Signed, matched: int) -> Break:
    event_id = AuditEvent.objects.filter(chain=chain, seq=checkpoint.seq).values_list(
        "pk", flat=True).first()
    return Break(chain, checkpoint.seq, event_id, "it no longer matches the checkpoint signed at "
                 f"{checkpoint.signed_at} (line {checkpoint.line}): the chain was rewritten after "
                 f"seq {matched} (the last signed head it still matches)")


def published_checkpoints() -> list[AuditCheckpoint]:
    """The latest signed head of every chain, for the public transparency page."""
    latest = AuditCheckpoint.objects.order_by("chain", "-signed_at", "-pk").distinct("chain")
    return sorted(latest, key=lambda c: (c.chain != PLATFORM_CHAIN, c.chain_name))


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
    return [Warning(f"Audit trail guard: {problem}.", id="casebound.W002", hint=(
        "Run `manage.py migrate` as the owner, or `ALTER DATABASE ... RESET "
        "casebound.audit_disposable`; then `manage.py verify_audit --checkpoints FILE`."))
        for problem in problems]

"""A checkpoint row inserted with the application's own credentials (no owner, no key) is neither
published on /transparency/ nor trusted as the start of the next signature's links."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from agencies.audit.models import AuditCheckpoint
from agencies.tests.test_audit_checkpoints import (  # noqa: F401  (fixtures and the marker)
    _checkpoint,
    _rewrite_from,
    _verify,
    audit_key,
    pytestmark,
)
from agencies.tests.test_audit_checkpoints import trail as trail  # noqa: F401


def test_an_unsigned_checkpoint_row_is_not_published_and_does_not_shorten_the_next_signature(
        cast, trail) -> None:  # noqa: F811
    AuditCheckpoint.objects.create(  # what the web process's database role may do
        chain=cast.agency.pk, chain_name=cast.agency.name, seq=10**9, hash="f" * 64,
        signed_at=timezone.now() + timedelta(days=3650), public_key="A" * 44, signature="forged")
    page = Client().get("/transparency/").content.decode()
    assert "ffffffffffffffff" not in page, "an unsigned row is published as the chain's head"
    checkpoints = _checkpoint()
    _rewrite_from(trail, 2, actor_name="mallory")
    report = _verify("--checkpoints", str(checkpoints))
    assert f"seq 3 (event {trail[2].pk})" in report, report

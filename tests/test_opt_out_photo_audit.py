"""Every image served is audited, the photo a member of the public sent with an opt-out too, which
the operator opens at /platform/opt-outs/{id}/photo/ once the request is confirmed."""

from __future__ import annotations

from agencies.accounts.mfa import totp_device_ensure
from agencies.audit.models import AuditAction, AuditEvent
from search.services.privacy import optout_confirm, optout_submit
from tests import photos
from tests.factories import TOTP_SECRET, UserFactory
from tests.fixtures import web_client


def test_the_operator_opening_an_opt_out_photo_is_audited(db) -> None:
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    totp_device_ensure(user=operator, base32_secret=TOTP_SECRET)
    tokens: list[str] = []
    request = optout_submit(photo=photos.photo("Ariel_Sharon", 0), email="a@example.org",
                            residence="US", link_for=lambda t: tokens.append(t) or t)
    unconfirmed = web_client(operator).get(f"/platform/opt-outs/{request.pk}/photo/")
    assert unconfirmed.status_code == 404  # not in the operator's queue, so not theirs to see
    optout_confirm(token=tokens[0])
    before = AuditEvent.objects.filter(action=AuditAction.IMAGE_VIEWED).count()
    response = web_client(operator).get(f"/platform/opt-outs/{request.pk}/photo/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert AuditEvent.objects.filter(action=AuditAction.IMAGE_VIEWED).count() == before + 1

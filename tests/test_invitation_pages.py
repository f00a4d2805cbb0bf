"""Pending invitations on the People page: listed with who, role, sent and expiry; revoked after a
confirmation and sent again with a new link, both audited; nobody else's reachable."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.core import mail
from django.test import Client
from django.utils import timezone

from agencies.accounts.models import Invitation
from agencies.audit.models import AuditAction, AuditEvent
from tests.fixtures import api_client, web_client

PASSWORD = "a-long-good-passphrase-2026"


def _invite(admin: Any, email: str = "kim@north.gov", role: str = "officer") -> tuple[Invitation, str]:
    web_client(admin).post("/people/invite/", {"email": email, "role": role})
    (link,) = re.findall(r"https?://\S+/invitations/\S+/", mail.outbox[-1].body)
    return Invitation.objects.get(email=email), urlsplit(link).path


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def test_the_people_page_lists_pending_invitations_with_role_sent_and_expiry(cast) -> None:
    invitation, _ = _invite(cast.admin, role="auditor")
    page = web_client(cast.admin).get("/people/").content.decode()
    row = page.split(f'id="invitation-{invitation.pk}"')[1].split("</tr>")[0]
    assert "k***@north.gov" in row and "kim@" not in row and "Auditor" in row and "dana" in row
    assert f"{invitation.created_at:%Y-%m-%d %H:%M}</time>" in row  # UTC, said once per page
    assert f"{invitation.expires_at:%Y-%m-%d %H:%M}</time>" in row
    assert "Expired" not in row


def test_an_expired_invitation_is_marked_and_can_be_sent_again(cast) -> None:
    invitation, old_path = _invite(cast.admin)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(days=1))
    client = web_client(cast.admin)
    assert "Expired" in client.get("/people/").content.decode()
    response = client.post(f"/people/invites/{invitation.pk}/resend/", follow=True)
    assert "Invitation e-mailed again to k***@north.gov with a new link" in response.content.decode()
    (link,) = re.findall(r"https?://\S+/invitations/\S+/", mail.outbox[-1].body)
    new_path = urlsplit(link).path
    assert new_path != old_path
    assert Client().get(old_path).status_code == 404  # the earlier link is dead
    assert Client().get(new_path).status_code == 200
    invitation.refresh_from_db()
    assert invitation.expires_at > timezone.now() + timedelta(days=6)
    (event,) = _events(AuditAction.INVITATION_RESENT)
    assert event.actor == cast.admin and event.agency == cast.agency
    assert event.details["email"] == "k***@north.gov" and event.object_id == str(invitation.pk)
    assert invitation.token not in str(event.details)


def test_revoking_asks_first_then_kills_the_link_and_is_audited(cast) -> None:
    invitation, path = _invite(cast.admin)
    client = web_client(cast.admin)
    asked = client.get(f"/people/invites/{invitation.pk}/revoke/")
    assert asked.status_code == 200
    assert "Revoke the invitation of k***@north.gov?" in asked.content.decode()
    unconfirmed = client.post(f"/people/invites/{invitation.pk}/revoke/")
    assert unconfirmed.status_code == 200 and not _events(AuditAction.INVITATION_REVOKED)
    done = client.post(f"/people/invites/{invitation.pk}/revoke/", {"confirm": "yes"},
                       follow=True)
    assert "The invitation of k***@north.gov is revoked" in done.content.decode()
    assert f'id="invitation-{invitation.pk}"' not in done.content.decode()
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert Client().get(path).status_code == 404
    accepted = Client().post(path, {"username": "kim", "password": PASSWORD})
    assert accepted.status_code == 404 and not Invitation.objects.filter(accepted_by__isnull=False).exists()
    (event,) = _events(AuditAction.INVITATION_REVOKED)
    assert event.actor == cast.admin and event.details == {"email": "k***@north.gov", "role": "officer"}
    # A revoked invitation is not brought back by sending it again.
    assert client.post(f"/people/invites/{invitation.pk}/resend/").status_code == 404


def test_another_agencys_admin_gets_404_and_other_roles_403(cast) -> None:
    invitation, path = _invite(cast.admin)
    foreign = web_client(cast.other_admin)
    assert foreign.get(f"/people/invites/{invitation.pk}/revoke/").status_code == 404
    assert foreign.post(f"/people/invites/{invitation.pk}/revoke/",
                        {"confirm": "yes"}).status_code == 404
    assert foreign.post(f"/people/invites/{invitation.pk}/resend/").status_code == 404
    assert "k***@north.gov" not in foreign.get("/people/").content.decode()
    for user in (cast.officer, cast.supervisor, cast.auditor):
        client = web_client(user)
        assert client.post(f"/people/invites/{invitation.pk}/revoke/",
                           {"confirm": "yes"}).status_code == 403
        assert client.post(f"/people/invites/{invitation.pk}/resend/").status_code == 403
    invitation.refresh_from_db()
    assert invitation.revoked_at is None and Client().get(path).status_code == 200
    assert not _events(AuditAction.INVITATION_REVOKED) and not _events(AuditAction.INVITATION_RESENT)


def test_an_accepted_invitation_is_no_longer_pending(cast) -> None:
    invitation, path = _invite(cast.admin)
    Client().post(path, {"username": "kim", "password": PASSWORD})
    client = web_client(cast.admin)
    assert f'id="invitation-{invitation.pk}"' not in client.get("/people/").content.decode()
    assert client.post(f"/people/invites/{invitation.pk}/revoke/",
                       {"confirm": "yes"}).status_code == 404


def test_the_api_lists_revokes_and_resends_like_the_page_for_the_admin_only(cast) -> None:
    invitation, path = _invite(cast.admin)
    admin = api_client(cast.admin)
    listed = admin.get("/api/v1/invitations/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(r["id"], r["email"], r["role"]) for r in rows] == [
        (invitation.pk, "k***@north.gov", "officer")]
    assert invitation.token not in str(listed)
    for user in (cast.officer, cast.auditor):
        assert api_client(user).get("/api/v1/invitations/").status_code == 403
        assert api_client(user).post(f"/api/v1/invitations/{invitation.pk}/revoke/").status_code == 403
    foreign = api_client(cast.other_admin)
    assert foreign.get("/api/v1/invitations/").json() in ([], {"count": 0, "next": None,
                                                              "previous": None, "results": []})
    assert foreign.post(f"/api/v1/invitations/{invitation.pk}/revoke/").status_code == 404
    assert foreign.post(f"/api/v1/invitations/{invitation.pk}/resend/").status_code == 404
    resent = admin.post(f"/api/v1/invitations/{invitation.pk}/resend/")
    assert resent.status_code == 200 and Client().get(path).status_code == 404
    assert admin.post(f"/api/v1/invitations/{invitation.pk}/revoke/").status_code == 200
    assert admin.post(f"/api/v1/invitations/{invitation.pk}/revoke/").status_code == 404
    assert [e.actor for e in _events(AuditAction.INVITATION_RESENT) +
            _events(AuditAction.INVITATION_REVOKED)] == [cast.admin, cast.admin]

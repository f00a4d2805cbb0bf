"""An invitation goes to the invitee's own mailbox: not the inviting admin's under another spelling
(case, a +tag), not a mailbox an account of the agency already has; the second approver sees it."""

from __future__ import annotations

from django.core import mail

from agencies.tenancy.models import Role
from tests.fixtures import api_client, web_client


def _invite(admin, email: str, role: str = Role.SUPERVISOR):
    return api_client(admin).post("/api/v1/invitations/", {"email": email, "role": role},
                                  format="json")


def test_an_admin_cannot_invite_at_an_alias_of_their_own_mailbox(cast) -> None:
    cast.admin.email = "dana@north.example.gov"
    cast.admin.save(update_fields=["email"])
    for alias in ("dana@north.example.gov", "Dana+sup@north.example.gov", " DANA@North.Example.gov"):
        response = _invite(cast.admin, alias)
        assert (response.status_code, response.json()["code"]) == (400, "own_address"), alias
    assert not mail.outbox


def test_a_mailbox_an_account_of_the_agency_has_is_not_invited_again(cast) -> None:
    cast.officer.email = "alice@north.example.gov"
    cast.officer.save(update_fields=["email"])
    response = _invite(cast.admin, "alice+boss@north.example.gov")
    assert (response.status_code, response.json()["code"]) == (400, "address_in_use")
    assert _invite(cast.admin, "kim@north.example.gov").status_code == 201  # a new person's own


def test_the_second_approver_sees_the_mailbox_of_the_account(cast) -> None:
    cast.officer.email = "alice@north.example.gov"
    cast.officer.save(update_fields=["email"])
    web_client(cast.admin).post(f"/people/{cast.officer.pk}/update/",
                                {"action": "role", "role": Role.SUPERVISOR})
    page = web_client(cast.operator).get("/platform/role-requests/").content.decode()
    assert "alice@north.example.gov" in page

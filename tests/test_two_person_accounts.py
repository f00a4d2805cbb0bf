"""Issue #14, item 3: one admin cannot satisfy the two-person rule alone. Invitation links go to
the invitee only, nobody records their own training, and a supervisor or admin role (new account
or promotion) takes effect only when a second person approves it."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from agencies.accounts.mfa import current_code, totp_device_ensure
from agencies.accounts.models import Invitation, RoleRequest
from agencies.audit.models import AuditAction, AuditEvent, AuditOutcome
from agencies.tenancy.models import Membership, Role
from tests.factories import TOTP_SECRET, member
from tests.fixtures import api_client, web_client

NEW_PASSWORD = "a-long-good-passphrase-2026"


def _invite(admin: Any, email: str, role: str) -> tuple[Any, str]:
    """The admin's invitation through the People page: the page they see, and the mailed link."""
    page = web_client(admin).post("/people/invite/", {"email": email, "role": role}, follow=True)
    links = re.findall(r"https?://\S+/invitations/\S+/", mail.outbox[-1].body)
    return page, links[0]


def test_the_mailed_link_points_at_the_site_address_whatever_host_the_request_named(
        cast, settings) -> None:
    settings.CASEBOUND = {**settings.CASEBOUND, "SITE_URL": "https://casebound.example.org"}
    web_client(cast.admin).post("/people/invite/", {"email": "kim@north.gov", "role": "officer"},
                                HTTP_HOST="evil.example")
    [link] = re.findall(r"https?://\S+/invitations/\S+/", mail.outbox[-1].body)
    assert link.startswith("https://casebound.example.org/invitations/"), link


def _accept(link: str, username: str) -> Any:
    path = urlsplit(link).path
    return Client().post(path, {"username": username, "password": NEW_PASSWORD})


def _sign_in(username: str) -> Any:
    return Client().post("/accounts/login/", {"username": username, "password": NEW_PASSWORD})


def test_the_invitation_link_is_mailed_to_the_invitee_and_never_shown_to_the_admin(
        cast, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    page, link = _invite(cast.admin, "jane.doe@north.example.gov", Role.OFFICER)
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert mail.outbox[-1].to == ["jane.doe@north.example.gov"]
    assert "j***@north.example.gov" in page.content.decode()
    assert token not in page.content.decode() and "/invitations/" not in page.content.decode()
    event = AuditEvent.objects.get(action=AuditAction.INVITATION_SENT, agency=cast.agency)
    assert event.details["email"] == "j***@north.example.gov"
    assert token not in str(event.details) and "jane.doe" not in str(event.details)
    assert token not in caplog.text
    assert _accept(link, "jane.doe").status_code == 200  # the invitee's link works


def test_an_admin_cannot_invite_themselves(cast) -> None:
    type(cast.admin).objects.filter(pk=cast.admin.pk).update(email="dana@north.example.gov")
    page = web_client(cast.admin).post("/people/invite/", {"email": "Dana@north.example.gov",
                                                          "role": Role.OFFICER}, follow=True)
    assert "at their own address" in page.content.decode()
    assert not mail.outbox


def test_nobody_records_their_own_training(cast) -> None:
    before = Membership.objects.get(user=cast.admin).training_valid_until
    page = web_client(cast.admin).post(f"/people/{cast.admin.pk}/training/",
                                       {"valid_until": "2099-12-31"}, follow=True)
    assert "Nobody records their own training" in page.content.decode()
    assert Membership.objects.get(user=cast.admin).training_valid_until == before
    assert web_client(cast.admin).post(f"/people/{cast.officer.pk}/training/",
                                       {"valid_until": "2099-12-31"}).status_code == 302
    assert str(Membership.objects.get(user=cast.officer).training_valid_until) == "2099-12-31"


def test_one_admin_alone_cannot_make_a_supervisor(cast) -> None:
    admin = web_client(cast.admin)
    page, link = _invite(cast.admin, "sam@north.example.gov", Role.SUPERVISOR)
    assert link.rsplit("/", 2)[1] not in page.content.decode()  # 1. the admin never sees the link
    # Suppose the admin reads the invitee's mailbox anyway: the account is created, but waits.
    accepted = _accept(link, "sam.sup")
    assert "must approve your role" in accepted.content.decode()
    sam = type(cast.admin).objects.get(username="sam.sup")
    membership = Membership.objects.get(user=sam)
    assert membership.awaiting_approval
    request = RoleRequest.objects.get(user=sam, status="pending")
    assert request.requested_by == cast.admin and request.new_account
    admin.post(f"/people/{sam.pk}/training/", {"valid_until": "2099-12-31"})  # 2. training alone
    totp_device_ensure(user=sam, base32_secret=TOTP_SECRET)  # 3. authenticator, ditto
    assert "waits for a second admin" in _sign_in("sam.sup").content.decode()
    token = Client().post("/api/v1/auth/token/", {"username": "sam.sup", "password": NEW_PASSWORD,
                                                  "otp": current_code(TOTP_SECRET)})
    assert token.status_code == 403 and token.json()["code"] == "account_unusable"
    # 4. the inviting admin approves their own request: refused, on the record
    refused = admin.post(f"/people/role-requests/{request.pk}/", {"decision": "approve"}, follow=True)
    assert "Another person must approve this" in refused.content.decode()
    assert Membership.objects.get(user=sam).awaiting_approval
    assert AuditEvent.objects.filter(action=AuditAction.ROLE_APPROVED, actor=cast.admin,
                                     outcome=AuditOutcome.REFUSED).exists()
    # 5. activating or re-roling the waiting account instead: refused
    for form in ({"action": "activate"}, {"action": "role", "role": Role.OFFICER}):
        page = admin.post(f"/people/{sam.pk}/update/", form, follow=True)
        assert "waits for approval of its role" in page.content.decode()
    assert Membership.objects.get(user=sam).role == Role.SUPERVISOR
    assert Membership.objects.get(user=sam).awaiting_approval


def test_promoting_an_officer_waits_for_a_second_approval(cast) -> None:
    admin = web_client(cast.admin)
    page = admin.post(f"/people/{cast.officer.pk}/update/", {"action": "role", "role": Role.SUPERVISOR},
                      follow=True)
    assert "now waits for another admin&#x27;s approval" in page.content.decode()
    assert Membership.objects.get(user=cast.officer).role == Role.OFFICER  # still an officer
    request = RoleRequest.objects.get(user=cast.officer, status="pending")
    assert AuditEvent.objects.filter(action=AuditAction.ROLE_REQUESTED, actor=cast.admin,
                                     object_id=str(cast.officer.pk)).exists()
    admin.post(f"/people/role-requests/{request.pk}/", {"decision": "approve"})
    assert Membership.objects.get(user=cast.officer).role == Role.OFFICER
    # Promoting oneself does not help either: the requester cannot approve.
    admin.post(f"/people/{cast.supervisor.pk}/update/", {"action": "role", "role": Role.AGENCY_ADMIN})
    own = RoleRequest.objects.get(user=cast.supervisor, status="pending")
    admin.post(f"/people/role-requests/{own.pk}/", {"decision": "approve"})
    assert Membership.objects.get(user=cast.supervisor).role == Role.SUPERVISOR


def test_the_operator_is_the_second_person_of_a_one_admin_agency(cast) -> None:
    _, link = _invite(cast.admin, "sam@north.example.gov", Role.SUPERVISOR)
    _accept(link, "sam.sup")
    sam = type(cast.admin).objects.get(username="sam.sup")
    web_client(cast.admin).post(f"/people/{sam.pk}/training/", {"valid_until": "2099-12-31"})
    request = RoleRequest.objects.get(user=sam)
    operator = web_client(cast.operator)
    listing = operator.get("/platform/role-requests/")
    assert listing.status_code == 200 and "sam.sup" in listing.content.decode()
    assert operator.post(f"/platform/role-requests/{request.pk}/",
                         {"decision": "approve"}).status_code == 302
    membership = Membership.objects.get(user=sam)
    assert membership.role == Role.SUPERVISOR and not membership.awaiting_approval
    request.refresh_from_db()
    assert request.status == "approved" and request.decided_by.username == "operator"
    on_agency = AuditEvent.objects.get(action=AuditAction.ROLE_APPROVED, chain=cast.agency.pk,
                                       outcome=AuditOutcome.SUCCESS)
    on_platform = AuditEvent.objects.get(action=AuditAction.ROLE_APPROVED, chain=0)
    for event in (on_agency, on_platform):
        assert event.details["requested_by"] == "dana" and event.details["decided_by"] == "operator"
    assert _sign_in("sam.sup").status_code == 302  # the password step now succeeds


def test_a_second_admin_approves_where_there_are_two(cast) -> None:
    frank = member(cast.agency, Role.AGENCY_ADMIN, "frank")
    web_client(cast.admin).post(f"/people/{cast.officer.pk}/update/",
                                {"action": "role", "role": Role.SUPERVISOR})
    request = RoleRequest.objects.get(user=cast.officer, status="pending")
    operator = web_client(cast.operator)
    assert "alice" not in operator.get("/platform/role-requests/").content.decode()
    page = operator.post(f"/platform/role-requests/{request.pk}/", {"decision": "approve"}, follow=True)
    assert "more than one admin" in page.content.decode()
    assert "Approve alice as Supervisor" in web_client(frank).get("/people/").content.decode()
    web_client(frank).post(f"/people/role-requests/{request.pk}/", {"decision": "approve"})
    assert Membership.objects.get(user=cast.officer).role == Role.SUPERVISOR
    event = AuditEvent.objects.get(action=AuditAction.ROLE_APPROVED, outcome=AuditOutcome.SUCCESS)
    assert event.actor == frank and event.details["requested_by"] == "dana"
    assert not AuditEvent.objects.filter(action=AuditAction.ROLE_APPROVED, chain=0).exists()


def test_a_refused_new_account_stays_closed(cast) -> None:
    frank = member(cast.agency, Role.AGENCY_ADMIN, "frank")
    _, link = _invite(cast.admin, "sam@north.example.gov", Role.AGENCY_ADMIN)
    _accept(link, "sam.adm")
    sam = type(cast.admin).objects.get(username="sam.adm")
    request = RoleRequest.objects.get(user=sam)
    web_client(frank).post(f"/people/role-requests/{request.pk}/", {"decision": "refuse"})
    sam.refresh_from_db()
    assert not sam.is_active and Membership.objects.get(user=sam).awaiting_approval
    assert AuditEvent.objects.filter(action=AuditAction.ROLE_REFUSED, actor=frank).exists()


def test_another_agencys_admin_cannot_see_or_decide_a_request(cast) -> None:
    web_client(cast.admin).post(f"/people/{cast.officer.pk}/update/",
                                {"action": "role", "role": Role.SUPERVISOR})
    request = RoleRequest.objects.get(user=cast.officer)
    response = web_client(cast.other_admin).post(f"/people/role-requests/{request.pk}/",
                                                 {"decision": "approve"})
    assert response.status_code == 404
    assert response.status_code == web_client(cast.other_admin).post(
        "/people/role-requests/999999/", {"decision": "approve"}).status_code
    assert "alice" not in web_client(cast.other_admin).get("/people/").content.decode()
    assert Membership.objects.get(user=cast.officer).role == Role.OFFICER


@pytest.mark.parametrize("username", [
    "\u0430dmin",  # Cyrillic a: looks like "admin"
    "j\u00f6rg", "john doe", "system", "Platform", "admin", "root", "operator", "casebound",
    "public", "=cmd", "+1", "-x", "@home", "a/b", "x" * 151,
])
def test_invitation_usernames_are_plain_and_not_reserved(cast, username) -> None:
    _, link = _invite(cast.admin, "new@north.example.gov", Role.OFFICER)
    accounts = type(cast.admin).objects.count()  # the cast's operator is named "operator" already
    response = _accept(link, username)
    assert response.status_code == 200 and "Your account is created" not in response.content.decode()
    assert re.search(r"Use only letters|reserved|cannot start with|at most 150",
                     response.content.decode())
    assert type(cast.admin).objects.count() == accounts


def test_a_plain_username_is_accepted(cast) -> None:
    _, link = _invite(cast.admin, "new@north.example.gov", Role.OFFICER)
    assert "Your account is created" in _accept(link, "j.doe-2_x").content.decode()
    assert Membership.objects.get(user__username="j.doe-2_x").role == Role.OFFICER
    assert not Membership.objects.get(user__username="j.doe-2_x").awaiting_approval



def test_the_api_invitation_answer_shows_only_a_masked_address(cast) -> None:
    response = api_client(cast.admin).post("/api/v1/invitations/", {
        "email": "jane.doe@north.example.gov", "role": Role.SUPERVISOR}, format="json")
    assert response.status_code == 201
    assert response.json()["email"] == "j***@north.example.gov"
    token = Invitation.objects.get(pk=response.json()["id"]).token
    assert token not in response.content.decode() and "jane.doe" not in response.content.decode()
    assert mail.outbox[-1].to == ["jane.doe@north.example.gov"] and token in mail.outbox[-1].body
    assert api_client(cast.officer).post("/api/v1/invitations/", {
        "email": "x@north.example.gov", "role": Role.OFFICER}, format="json").status_code == 403


def test_the_api_refuses_a_bad_username_with_the_fields_message(cast) -> None:
    _, link = _invite(cast.admin, "new@north.example.gov", Role.SUPERVISOR)
    token = link.rstrip("/").rsplit("/", 1)[1]
    for username, words in (("system", "reserved"), ("\u0430dmin", "Use only letters"),
                            ("=HYPERLINK", "cannot start with")):
        response = APIClient().post("/api/v1/invitations/accept/", {
            "token": token, "username": username, "password": NEW_PASSWORD}, format="json")
        assert response.status_code == 400 and words in response.json()["errors"]["username"][0]
    response = APIClient().post("/api/v1/invitations/accept/", {
        "token": token, "username": "sam.sup", "password": NEW_PASSWORD}, format="json")
    assert response.status_code == 201 and response.json()["awaiting_approval"] is True
    assert Membership.objects.get(user__username="sam.sup").awaiting_approval


def test_the_api_approval_needs_a_second_admin(cast) -> None:
    frank = member(cast.agency, Role.AGENCY_ADMIN, "frank")
    web_client(cast.admin).post(f"/people/{cast.officer.pk}/update/",
                                {"action": "role", "role": Role.SUPERVISOR})
    request = RoleRequest.objects.get(user=cast.officer, status="pending")
    listed = api_client(frank).get("/api/v1/role-requests/").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(r["user"], r["role"], r["requested_by"]) for r in rows] == [
        ("alice", Role.SUPERVISOR, "dana")]
    own = api_client(cast.admin).post(f"/api/v1/role-requests/{request.pk}/approve/")
    assert own.status_code == 403 and own.json()["code"] == "second_approver_required"
    assert api_client(cast.supervisor).post(
        f"/api/v1/role-requests/{request.pk}/approve/").status_code == 403
    assert api_client(cast.other_admin).post(
        f"/api/v1/role-requests/{request.pk}/approve/").status_code == 404
    approved = api_client(frank).post(f"/api/v1/role-requests/{request.pk}/approve/")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert Membership.objects.get(user=cast.officer).role == Role.SUPERVISOR


def test_the_django_admin_cannot_change_a_role_around_the_second_approval(cast) -> None:
    membership = Membership.objects.get(user=cast.officer)
    response = web_client(cast.operator).post(
        f"/admin/agencies/membership/{membership.pk}/change/",
        {"user": cast.officer.pk, "agency": cast.agency.pk, "role": Role.AGENCY_ADMIN,
         "training_valid_until": "2099-12-31"})
    assert response.status_code == 403  # the admin writes nothing (portal/admin_site.py)
    membership.refresh_from_db()
    assert membership.role == Role.OFFICER and str(membership.training_valid_until) != "2099-12-31"

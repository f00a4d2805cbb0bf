"""The writes the Django admin used to do, now audited services: plans on the platform API, unlocks
on the platform page, second-factor resets on the People page."""

from __future__ import annotations

from axes.models import AccessAttempt
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies.audit.models import AuditAction, AuditEvent
from agencies.audit.trail import PLATFORM_CHAIN, verify_chain
from agencies.billing.models import License, Plan
from tests.factories import PASSWORD
from tests.fixtures import api_client, web_client

PLAN = {"name": "Metro", "seats": 40, "monthly_search_quota": 900, "overage_policy": "bill",
        "overage_price": "3.50", "annual_fee_per_seat": "1000.00",
        "storage_price_per_1000_faces": "2.00", "currency": "USD", "validity_days": 365}


def _plan_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.PLAN_CHANGED).order_by("seq"))


def test_creating_changing_and_deleting_a_plan_is_audited_on_the_platform_chain(operator) -> None:
    client = api_client(operator)
    created = client.post("/api/v1/platform/plans/", PLAN, format="json")
    assert created.status_code == 201, created.content
    plan_id = created.json()["id"]
    changed = client.patch(f"/api/v1/platform/plans/{plan_id}/", {"seats": 45}, format="json")
    assert changed.status_code == 200 and changed.json()["seats"] == 45
    assert client.delete(f"/api/v1/platform/plans/{plan_id}/").status_code == 204
    assert not Plan.objects.filter(pk=plan_id).exists()
    create, change, delete = _plan_events()
    assert {e.chain for e in (create, change, delete)} == {PLATFORM_CHAIN}
    assert all(e.actor == operator and e.object_id == str(plan_id) for e in (create, change, delete))
    assert create.details["before"] is None and create.details["after"]["seats"] == "40"
    assert change.details["before"]["seats"] == "40" and change.details["after"]["seats"] == "45"
    assert delete.details["before"]["name"] == "Metro" and delete.details["after"] is None
    assert verify_chain(PLATFORM_CHAIN) is None


def test_a_plan_in_use_is_not_deleted(cast, operator) -> None:
    plan = License.objects.get(agency=cast.agency).plan
    response = api_client(operator).delete(f"/api/v1/platform/plans/{plan.pk}/")
    assert response.status_code == 409 and response.json()["code"] == "plan_in_use"
    assert "another plan" in response.json()["detail"]
    assert Plan.objects.filter(pk=plan.pk).exists() and not _plan_events()


def test_only_the_operator_writes_plans(cast) -> None:
    client = api_client(cast.admin)
    assert client.post("/api/v1/platform/plans/", PLAN, format="json").status_code == 403
    assert not Plan.objects.filter(name="Metro").exists()


def _lock(username: str) -> None:
    for attempt in range(5):
        Client(REMOTE_ADDR=f"10.6.0.{attempt + 1}").post(
            "/accounts/login/", {"username": username, "password": f"wrong-{attempt}"})


def test_the_operator_unlocks_an_agency_admin_on_the_platform_page(cast, operator) -> None:
    _lock("dana")
    client = web_client(operator)
    assert b"Unlock dana" in client.get("/platform/").content
    response = client.post("/platform/accounts/unlock/", {"username": "dana"})
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="dana").exists()
    event = AuditEvent.objects.get(action=AuditAction.ACCOUNT_UNLOCKED)
    assert event.actor == operator and event.agency == cast.agency
    page = client.get("/platform/")
    assert b"No account is locked" in page.content


def test_unlocking_an_unknown_name_says_so(operator) -> None:
    client = web_client(operator)
    response = client.post("/platform/accounts/unlock/", {"username": "nobody"}, follow=True)
    assert b"No account is named" in response.content
    assert not AuditEvent.objects.filter(action=AuditAction.ACCOUNT_UNLOCKED).exists()


def test_an_agency_admin_cannot_use_the_platform_unlock(cast) -> None:
    _lock("charlie")
    response = web_client(cast.admin).post("/platform/accounts/unlock/", {"username": "charlie"})
    assert response.status_code == 403
    assert AccessAttempt.objects.filter(username="charlie").exists()


def test_the_agency_admin_resets_a_lost_second_factor(cast) -> None:
    response = web_client(cast.admin).post(f"/people/{cast.officer.pk}/mfa-reset/")
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=cast.officer).exists()
    event = AuditEvent.objects.get(action=AuditAction.MFA_RESET)
    assert event.actor == cast.admin and event.object_id == str(cast.officer.pk)
    client = Client()
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert client.get("/").headers["Location"] == "/accounts/mfa/setup/"


def test_another_agencys_admin_cannot_reset_a_second_factor(cast) -> None:
    response = web_client(cast.other_admin).post(f"/people/{cast.officer.pk}/mfa-reset/")
    assert response.status_code == 404
    assert TOTPDevice.objects.filter(user=cast.officer).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.MFA_RESET).exists()

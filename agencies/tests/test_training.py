"""Recording training: the agency admin records a member's training on the people page, under
its own audit action; nobody else of the agency, and nobody of another agency, may."""

from __future__ import annotations

from datetime import date, timedelta

from django.test import Client

from agencies.accounts.services import training_record
from agencies.audit.models import AuditAction, AuditEvent
from agencies.tenancy.models import Membership, Role
from tests.factories import PASSWORD, member
from tests.fixtures import api_client, web_client

UNTIL = date.today() + timedelta(days=400)


def _training_of(user: object) -> date | None:
    membership = Membership.objects.get(user=user)
    membership.refresh_from_db()
    return membership.training_valid_until


def test_the_admin_records_training_on_the_people_page_and_it_is_audited_as_training(cast) -> None:
    response = web_client(cast.admin).post(f"/people/{cast.officer.pk}/training/",
                                           {"valid_until": UNTIL.isoformat()}, follow=True)
    assert response.status_code == 200
    text = response.content.decode()
    assert f"Training of alice recorded until {UNTIL}." in text
    assert UNTIL.isoformat() in text  # the people list shows the new date
    assert _training_of(cast.officer) == UNTIL
    [event] = AuditEvent.objects.filter(action=AuditAction.TRAINING_RECORDED)
    assert (event.actor, event.agency, event.object_type, event.object_id) == (
        cast.admin, cast.agency, "user", str(cast.officer.pk))
    assert event.details == {"username": "alice", "training_valid_until": str(UNTIL)}
    assert event.get_action_display() == "Training recorded"
    assert not AuditEvent.objects.filter(action=AuditAction.ROLE_CHANGED).exists()


def test_recorded_training_lets_a_lapsed_officer_back_in(cast) -> None:
    Membership.objects.filter(user=cast.officer).update(
        training_valid_until=date.today() - timedelta(days=1))
    assert api_client(cast.officer).get("/api/v1/cases/").status_code == 401
    refused = Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert b"training is not on record or has lapsed" in refused.content
    web_client(cast.admin).post(f"/people/{cast.officer.pk}/training/",
                                {"valid_until": UNTIL.isoformat()})
    assert api_client(cast.officer).get("/api/v1/cases/").status_code == 200
    signed_in = Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert signed_in.status_code == 302 and b"training is not on record" not in signed_in.content


def test_a_missing_or_malformed_date_is_refused_with_what_to_do(cast) -> None:
    before = _training_of(cast.officer)
    for value in ("", "31/12/2030", "2030-02-30"):
        response = web_client(cast.admin).post(f"/people/{cast.officer.pk}/training/",
                                               {"valid_until": value}, follow=True)
        assert response.status_code == 200
        assert "Give the date until which the training is valid." in response.content.decode()
    assert _training_of(cast.officer) == before
    assert not AuditEvent.objects.filter(action=AuditAction.TRAINING_RECORDED).exists()


def test_only_the_agency_admin_records_training(cast) -> None:
    before = _training_of(cast.officer)
    for user in (cast.supervisor, cast.auditor, member(cast.agency, Role.OFFICER, "frank")):
        response = web_client(user).post(f"/people/{cast.officer.pk}/training/",
                                         {"valid_until": UNTIL.isoformat()})
        assert response.status_code == 403, user
    assert _training_of(cast.officer) == before
    assert not AuditEvent.objects.filter(action=AuditAction.TRAINING_RECORDED).exists()


def test_another_agencys_admin_gets_404_and_changes_nothing(cast) -> None:
    before = _training_of(cast.officer)
    response = web_client(cast.other_admin).post(f"/people/{cast.officer.pk}/training/",
                                                 {"valid_until": UNTIL.isoformat()})
    assert response.status_code == 404
    assert _training_of(cast.officer) == before
    assert not AuditEvent.objects.filter(action=AuditAction.TRAINING_RECORDED).exists()


def test_the_operator_records_the_training_of_a_one_admin_agencys_admin(cast) -> None:
    training_record(admin=cast.operator, user=cast.admin, valid_until=UNTIL)
    assert _training_of(cast.admin) == UNTIL
    [event] = AuditEvent.objects.filter(action=AuditAction.TRAINING_RECORDED)
    assert (event.actor, event.agency) == (cast.operator, cast.agency)

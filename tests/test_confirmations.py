"""Final actions ask first and say what they do; every change ends with a message saying what
happened (issue #17); an agency admin cannot deactivate themself, on any path."""

from __future__ import annotations

import pytest

from agencies.accounts.services import member_update
from agencies.audit.models import AuditAction, AuditEvent
from agencies.tenancy.models import Role
from portal.errors import ServiceError
from search.models import Case, CaseStatus
from tests.factories import CaseFactory, assigned_case, member
from tests.fixtures import web_client


def test_deactivating_someone_asks_first_then_says_it_is_done(cast) -> None:
    admin, url = web_client(cast.admin), f"/people/{cast.officer.pk}/update/"
    asked = admin.post(url, {"action": "deactivate"})
    assert asked.status_code == 200
    assert "<h1>Deactivate alice?</h1>" in asked.content.decode()
    assert "will no longer be able to sign in or use the API. Their cases" in asked.content.decode()
    cast.officer.refresh_from_db()
    assert cast.officer.is_active  # nothing changed before the confirmation
    done = admin.post(url, {"action": "deactivate", "confirm": "yes"}, follow=True)
    assert "alice is deactivated: they can no longer sign in or use the API." in done.content.decode()
    cast.officer.refresh_from_db()
    assert not cast.officer.is_active
    back = admin.post(url, {"action": "activate"}, follow=True)
    assert "alice is active again." in back.content.decode()


def test_an_agency_admin_cannot_deactivate_themself(cast) -> None:
    admin = web_client(cast.admin)
    people = admin.get("/people/").content.decode()
    assert "You cannot deactivate yourself." in people
    assert 'aria-label="Deactivate dana"' not in people and 'aria-label="Deactivate alice"' in people
    refused = admin.post(f"/people/{cast.admin.pk}/update/", {"action": "deactivate",
                                                              "confirm": "yes"}, follow=True)
    assert "You cannot deactivate your own account." in refused.content.decode()
    cast.admin.refresh_from_db()
    assert cast.admin.is_active
    with pytest.raises(ServiceError) as refusal:  # whatever calls the service: a script, a task
        member_update(admin=cast.admin, user=cast.admin, active=False)
    assert refusal.value.status == 403 and refusal.value.code == "own_account"
    cast.admin.refresh_from_db()
    assert cast.admin.is_active
    assert not AuditEvent.objects.filter(action=AuditAction.ROLE_CHANGED).exists()


def test_another_admin_of_the_agency_can_deactivate_an_admin(cast) -> None:
    frank = member(cast.agency, Role.AGENCY_ADMIN, "frank")
    web_client(frank).post(f"/people/{cast.admin.pk}/update/", {"action": "deactivate",
                                                               "confirm": "yes"})
    cast.admin.refresh_from_db()
    assert not cast.admin.is_active


def test_another_agencys_admin_gets_no_confirmation_page(cast) -> None:
    response = web_client(cast.other_admin).post(f"/people/{cast.officer.pk}/update/",
                                                 {"action": "deactivate"})
    assert response.status_code == 404 and b"alice" not in response.content


def test_case_decisions_say_what_happened(cast) -> None:
    supervisor = web_client(cast.supervisor)
    approved = CaseFactory(agency=cast.agency, opened_by=cast.officer, status=CaseStatus.PENDING,
                           case_number="2026-0301")
    page = supervisor.post(f"/cases/{approved.pk}/decide/", {"decision": "approve",
                                                             "reason": "Warrant seen"}, follow=True)
    assert "Case 2026-0301 approved: its assigned officers may search in it." in page.content.decode()
    rejected = CaseFactory(agency=cast.agency, opened_by=cast.officer, status=CaseStatus.PENDING,
                           case_number="2026-0302")
    page = supervisor.post(f"/cases/{rejected.pk}/decide/", {"decision": "reject",
                                                             "reason": "No warrant"}, follow=True)
    assert "Case 2026-0302 rejected: no one can search in it." in page.content.decode()
    assert Case.objects.get(pk=rejected.pk).status == CaseStatus.REJECTED


def test_closing_a_case_asks_first_then_says_it_is_closed(cast) -> None:
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0401",
                         decided_by=cast.supervisor)
    officer = web_client(cast.officer)
    asked = officer.post(f"/cases/{case.pk}/close/")
    assert "<h1>Close case 2026-0401?</h1>" in asked.content.decode()
    assert Case.objects.get(pk=case.pk).status == CaseStatus.APPROVED
    done = officer.post(f"/cases/{case.pk}/close/", {"confirm": "yes"}, follow=True)
    assert "Case 2026-0401 is closed." in done.content.decode()


def test_settings_say_which_setting_was_saved(cast) -> None:
    page = web_client(cast.admin).post("/retention/", {
        "probe_days_after_close": 30, "probe_max_days": 400, "unconfirmed_candidate_days": 60},
        follow=True)
    assert "Retention schedule saved" in page.content.decode()

"""The "update a setting" step (portal.changes) as the search policy, retention and license
services use it: only the named fields change, a refused value changes nothing and is not
audited, and an accepted change is audited with the values before and after."""

from __future__ import annotations

from agencies.audit.models import AuditAction, AuditEvent
from agencies.billing.models import License
from search.selectors import policy_of, retention_of
from tests.fixtures import api_client


def test_a_refused_policy_or_retention_value_changes_nothing_and_is_not_audited(cast) -> None:
    client = api_client(cast.admin)
    refused = client.patch("/api/v1/policy/", {"max_candidates": 10, "target_false_match_rate": 7},
                           format="json")
    assert refused.status_code == 400
    refused = client.patch("/api/v1/retention/", {"probe_max_days": 90,
                                                  "probe_days_after_close": 120}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_retention"
    assert policy_of(cast.agency).pk is None and retention_of(cast.agency).pk is None
    assert not AuditEvent.objects.filter(action=AuditAction.SETTINGS_CHANGED).exists()


def test_an_accepted_change_touches_only_its_fields_and_records_before_and_after(cast) -> None:
    client = api_client(cast.admin)
    default = policy_of(cast.agency).authorization_days
    saved = client.patch("/api/v1/policy/", {"max_candidates": 7}, format="json")
    assert saved.status_code == 200 and saved.json()["max_candidates"] == 7
    assert policy_of(cast.agency).authorization_days == default
    event = AuditEvent.objects.get(action=AuditAction.SETTINGS_CHANGED)
    assert event.details["after"]["max_candidates"] == 7
    assert event.details["before"]["max_candidates"] != 7


def test_the_operator_changes_a_license_field_and_an_unknown_key_changes_nothing(cast) -> None:
    granted = License.objects.get(agency=cast.agency)
    client = api_client(cast.operator)
    ends_on = granted.ends_on
    bad = client.patch(f"/api/v1/platform/licenses/{granted.pk}/",
                       {"ends_on": str(granted.starts_on.replace(year=granted.starts_on.year - 1))},
                       format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_dates"
    granted.refresh_from_db()
    assert granted.ends_on == ends_on
    ok = client.patch(f"/api/v1/platform/licenses/{granted.pk}/",
                      {"suspension_reason": "unpaid", "agency": cast.other_agency.pk}, format="json")
    assert ok.status_code == 200
    granted.refresh_from_db()
    assert granted.suspension_reason == "unpaid" and granted.agency == cast.agency
    event = AuditEvent.objects.filter(action=AuditAction.LICENSE_CHANGED).latest("seq")
    assert event.details["before"]["suspension_reason"] == ""
    assert event.details["after"]["suspension_reason"] == "unpaid"

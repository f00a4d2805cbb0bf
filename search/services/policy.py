"""The agency's search policy: read with defaults, changed by the agency admin, audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from agencies.audit.models import AuditAction
from agencies.audit.trail import audit_record
from agencies.tenancy.models import Agency, Role
from agencies.tenancy.permissions import ensure_acts_for
from portal.changes import clean_or_refuse, fields_apply
from portal.errors import ServiceError
from search.models import OffenceCategory, SearchPolicy
from search.selectors import policy_of

EDITABLE = ("allowed_offences", "max_candidates", "target_false_match_rate", "authorization_days")


@transaction.atomic
def policy_update(*, agency: Agency, actor: Any, **changes: Any) -> SearchPolicy:
    """Change the policy; every change is audited with the values before and after."""
    ensure_acts_for(actor, agency, Role.AGENCY_ADMIN, code="agency_admin_required",
                    message="Only the agency admin can change the search policy.")
    unknown = set(changes.get("allowed_offences", [])) - set(OffenceCategory.values)
    if unknown:
        raise ServiceError("invalid_offence_category", f"Unknown offence categories: {sorted(unknown)}")
    policy = policy_of(agency)
    before = policy.snapshot()
    fields_apply(policy, EDITABLE, changes)
    clean_or_refuse(policy, code="invalid_policy")
    policy.save()
    audit_record(action=AuditAction.SETTINGS_CHANGED, agency=agency, actor=actor, obj=policy,
                 details={"before": before, "after": policy.snapshot()})
    return policy

"""Who may hold a license, the licenses themselves, and the checks a search must pass."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from agencies.audit.models import AuditAction, AuditOutcome
from agencies.audit.trail import audit_record
from agencies.billing.models import (
    ExcludedJurisdiction,
    License,
    LicenseStatus,
    OveragePolicy,
    Plan,
    UsageKind,
)
from agencies.billing.selectors import current_license, usage_in_month
from agencies.tenancy.models import Agency, AgencyKind, Membership, Role
from agencies.tenancy.permissions import ensure_operator
from portal.changes import fields_apply
from portal.errors import ServiceError

QUOTA_LOCK_SPACE = 1414  # pg_advisory_xact_lock(space, agency id): one agency's quota decisions


def _require_operator(actor: Any) -> None:
    ensure_operator(actor, message="Only the platform operator manages agencies and licenses.")


def eligibility_refusal(*, kind: str, country: str, region: str) -> str:
    """Why such a body may not hold a license, or "" when it may."""
    if kind not in (AgencyKind.LAW_ENFORCEMENT, AgencyKind.GOVERNMENT):
        return ("Only public bodies (law-enforcement agencies and other government bodies) can "
                "hold a license.")
    excluded = ExcludedJurisdiction.objects.filter(
        Q(country=country.upper(), region="") | Q(country=country.upper(), region=region.upper())).first()
    return f"Casebound is not offered in {excluded}: {excluded.reason}." if excluded else ""


def _ensure_codes(country: str, region: str) -> None:
    """ISO codes in ASCII letters: upper-casing other letters may lengthen them ("ß" is "SS"),
    past what the columns hold."""
    if not re.fullmatch(r"[A-Za-z]{2}", country):
        raise ServiceError("invalid_country", "The country must be a two-letter ISO 3166-1 code, "
                           "for example US.")
    if not re.fullmatch(r"[A-Za-z0-9]{0,3}", region):
        raise ServiceError("invalid_region", "The region must be the ISO 3166-2 subdivision code "
                           "after the country, at most three letters or digits (for example IL), "
                           "or empty.")


def agency_register(*, actor: Any, name: str, slug: str, kind: str, country: str,
                    region: str = "") -> Agency:
    """Create an agency after the eligibility check; a refusal is audited with its reason."""
    _require_operator(actor)
    _ensure_codes(country, region)
    refusal = eligibility_refusal(kind=kind, country=country, region=region)
    if refusal:
        audit_record(action=AuditAction.AGENCY_REFUSED, agency=None, actor=actor,
                     outcome=AuditOutcome.REFUSED,
                     details={"name": name, "kind": kind, "country": country, "region": region,
                              "reason": refusal})
        raise ServiceError("not_eligible", refusal, status=403)
    with transaction.atomic():
        agency = Agency.objects.create(name=name, slug=slug, kind=kind, country=country.upper(),
                                       region=region.upper())
        audit_record(action=AuditAction.AGENCY_CREATED, agency=None, actor=actor, obj=agency,
                     details={"name": name, "kind": kind, "country": country, "region": region})
    return agency


@transaction.atomic
def license_grant(*, actor: Any, agency: Agency, plan: Plan, starts_on: date,
                  ends_on: date | None = None) -> License:
    """Give an agency a license on a plan, from a date, for the plan's validity unless told."""
    _require_operator(actor)
    granted = License.objects.create(agency=agency, plan=plan, starts_on=starts_on,
                                     ends_on=ends_on or starts_on + timedelta(days=plan.validity_days))
    audit_record(action=AuditAction.LICENSE_CHANGED, agency=agency, actor=actor, obj=granted,
                 details={"change": "granted", "plan": plan.name, "starts_on": str(granted.starts_on),
                          "ends_on": str(granted.ends_on)})
    return granted


@transaction.atomic
def license_change(*, actor: Any, license: License, **changes: Any) -> License:
    """Change plan, dates or status (suspend / resume); audited with before and after."""
    _require_operator(actor)
    fields = ("plan", "starts_on", "ends_on", "status", "suspension_reason")
    before = {f: str(value) for f, value in fields_apply(license, fields, changes).items()}
    if license.ends_on < license.starts_on:
        raise ServiceError("invalid_dates", "A license cannot end before it starts.")
    license.save()
    audit_record(action=AuditAction.LICENSE_CHANGED, agency=license.agency, actor=actor,
                 obj=license, details={"before": before,
                                       "after": {f: str(getattr(license, f)) for f in fields}})
    return license


PLAN_FIELDS = ("name", "seats", "monthly_search_quota", "overage_policy", "overage_price",
               "annual_fee_per_seat", "storage_price_per_1000_faces", "currency", "validity_days")


def _plan_state(plan: Plan) -> dict[str, str]:
    return {f: str(getattr(plan, f)) for f in PLAN_FIELDS}


@transaction.atomic
def plan_create(*, actor: Any, **fields: Any) -> Plan:
    """A new plan; audited on the platform chain with what it offers and costs."""
    _require_operator(actor)
    plan = Plan.objects.create(**{f: v for f, v in fields.items() if f in PLAN_FIELDS})
    audit_record(action=AuditAction.PLAN_CHANGED, agency=None, actor=actor, obj=plan,
                 details={"change": "created", "before": None, "after": _plan_state(plan)})
    return plan


@transaction.atomic
def plan_change(*, actor: Any, plan: Plan, **changes: Any) -> Plan:
    """Change what a plan offers or costs (every license on it follows); audited before/after."""
    _require_operator(actor)
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    before = _plan_state(plan)
    fields_apply(plan, PLAN_FIELDS, changes)
    plan.save()
    audit_record(action=AuditAction.PLAN_CHANGED, agency=None, actor=actor, obj=plan,
                 details={"change": "changed", "before": before, "after": _plan_state(plan)})
    return plan


@transaction.atomic
def plan_delete(*, actor: Any, plan: Plan) -> None:
    """Delete a plan no license refers to; audited with what it was."""
    _require_operator(actor)
    if License.objects.filter(plan=plan).exists():
        raise ServiceError("plan_in_use", f"Licenses refer to the plan {plan.name}; move them to "
                           "another plan before deleting it.", status=409)
    audit_record(action=AuditAction.PLAN_CHANGED, agency=None, actor=actor, obj=plan,
                 details={"change": "deleted", "before": _plan_state(plan), "after": None})
    plan.delete()


def _searches_this_month(agency: Agency) -> int:
    return usage_in_month(agency=agency, kind=UsageKind.SEARCH)


def search_quota_lock(agency: Agency) -> None:
    """Serialise the agency's quota decisions until the transaction ends.

    Without it two requests (or two workers) could each count the same last unit of quota.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [QUOTA_LOCK_SPACE, agency.pk])


def ensure_license_allows_search(agency: Agency, *, in_flight: int = 0) -> None:
    """Refuse a search when the license is missing, expired, suspended or over a refusing quota.

    `in_flight` is how many of the agency's searches are queued or running and not yet metered;
    count them before calling, so that one finishing meanwhile is counted twice, never not at all.
    """
    granted = ensure_license_in_force(agency)
    plan = granted.plan
    refusing = plan.overage_policy == OveragePolicy.REFUSE
    if refusing and in_flight + _searches_this_month(agency) >= plan.monthly_search_quota:
        raise ServiceError("quota_exceeded", f"Your agency has used its {plan.monthly_search_quota} "
                           "searches for this month. Searches resume on the 1st, or ask your agency "
                           "admin to change plan.", status=402)


def ensure_license_in_force(agency: Agency) -> License:
    """The agency's license today; refused when it is missing, expired or suspended."""
    granted = current_license(agency)
    if granted is None:
        expired = License.objects.filter(agency=agency, ends_on__lt=timezone.localdate()).exists()
        code = "license_expired" if expired else "license_missing"
        raise ServiceError(code, "Your agency's Casebound license has expired. Ask your agency admin "
                           "to renew it." if expired else "Your agency has no Casebound license.",
                           status=402)
    if granted.status == LicenseStatus.SUSPENDED:
        raise ServiceError("license_suspended", "Your agency's license is suspended"
                           + (f": {granted.suspension_reason}" if granted.suspension_reason else "")
                           + ". Contact the Casebound operator.", status=402)
    return granted


def active_officers(agency: Agency) -> int:
    return Membership.objects.filter(agency=agency, role=Role.OFFICER, user__is_active=True).count()


def ensure_seat_available(agency: Agency) -> None:
    """Refuse one more active officer account than the plan's seats."""
    granted = current_license(agency)
    seats = granted.plan.seats if granted else 0
    if active_officers(agency) >= seats:
        raise ServiceError("no_seat_left", f"All {seats} officer seats of your license are in use. "
                           "Deactivate an officer or ask the operator for more seats.", status=403)

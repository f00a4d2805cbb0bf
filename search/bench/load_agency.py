"""The load test's agency: officers with a case each, an admin, a gallery to search and one to
bulk-enroll into. Made with the same services as the demo seed, idempotent, as the SYSTEM actor
(the operator's command on the server); each run issues new tokens (audited)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils import timezone
from guardian.shortcuts import assign_perm

from agencies.accounts.mfa import totp_device_ensure
from agencies.accounts.services import agency_ensure, member_ensure, token_issue
from agencies.billing.models import License, OveragePolicy, Plan
from agencies.billing.selectors import current_license
from agencies.tenancy.models import Agency, Role
from agencies.tenancy.permissions import SYSTEM
from search.bench.load import Officer
from search.models import Case, CaseStatus, Gallery, LegalBasis, OffenceCategory
from search.services.bulk import folder_enroll
from search.services.cases import SEARCH_PERMISSION

SLUG = "loadtest"


@dataclass
class LoadAgency:
    officers: list[Officer]
    admin_token: str
    bulk_gallery_id: int


def people_with_photos(root: Path, count: int, skip: int = 0) -> list[list[Path]]:
    """The photos of `count` LFW people with at least two photos, after the first `skip`."""
    people = sorted(d for d in root.iterdir() if d.is_dir())
    chosen = [sorted(d.glob("*.jpg")) for d in people]
    return [p for p in chosen if len(p) >= 2][skip:skip + count]


@dataclass
class StaffedAgency:
    agency: Agency
    gallery: Gallery
    officers: list[Officer]
    admin_token: str


def staffed_agency_ensure(*, slug: str, name: str, officers: int, gallery_name: str,
                          source: str) -> StaffedAgency:
    """A benchmark agency (made once, kept): a license, an admin, a supervisor, officers with
    an approved case each, and a gallery; fresh API tokens."""
    agency = agency_ensure(slug=slug, name=name)
    license_ensure(agency, seats=officers + 2)
    admin = member_with_mfa(agency, "admin", Role.AGENCY_ADMIN)
    supervisor = member_with_mfa(agency, "supervisor", Role.SUPERVISOR)
    staff = [member_with_mfa(agency, f"officer-{n:02d}", Role.OFFICER) for n in range(1, officers + 1)]
    gallery, _ = Gallery.objects.get_or_create(
        agency=agency, name=gallery_name,
        defaults={"source": source, "legal_basis": LegalBasis.ARREST_RECORD})
    return StaffedAgency(
        agency=agency, gallery=gallery, admin_token=token_issue(user=admin).key,
        officers=[Officer(user.username, token_issue(user=user).key,
                          case_approved(agency, user, supervisor)) for user in staff])


def load_agency_ensure(*, officers: int, people: list[list[Path]], root: Path) -> LoadAgency:
    """The agency, its members and galleries; the searched gallery holds all but the last photo
    of each person (the last ones are the probes)."""
    staffed = staffed_agency_ensure(slug=SLUG, name="Load Test Agency", officers=officers,
                                    gallery_name="Load-test bookings",
                                    source="LFW photos (load test)")
    agency, gallery = staffed.agency, staffed.gallery
    folder_enroll(actor=SYSTEM, gallery=gallery, root=root,
                  files=[photo for photos in people for photo in photos[:-1]])
    bulk = Gallery.objects.create(  # a new one each run: a photo enrolled before would be skipped
        agency=agency, name=f"Load-test bulk {timezone.now():%Y-%m-%d %H:%M:%S.%f}",
        source="LFW photos (load test)", legal_basis=LegalBasis.ARREST_RECORD)
    return LoadAgency(officers=staffed.officers, admin_token=staffed.admin_token,
                      bulk_gallery_id=bulk.pk)


def member_with_mfa(agency: Agency, name: str, role: str) -> Any:
    """A bench member `<agency slug>-<name>` with both factors (random secrets: nobody signs in)."""
    user = member_ensure(agency=agency, username=f"{agency.slug}-{name}", role=role,
                         password=secrets.token_urlsafe(24),
                         training_valid_until=timezone.now().date() + timedelta(days=365))
    totp_device_ensure(user=user, base32_secret=base64.b32encode(secrets.token_bytes(20)).decode())
    return user


def license_ensure(agency: Agency, seats: int) -> None:
    """A current licence of the free bench plan with at least `seats` seats."""
    plan, _ = Plan.objects.get_or_create(name="Load test", defaults={
        "seats": seats, "monthly_search_quota": 1_000_000, "overage_policy": OveragePolicy.BILL,
        "overage_price": Decimal("0.00"), "annual_fee_per_seat": Decimal("0.00"),
        "storage_price_per_1000_faces": Decimal("0.00")})
    if plan.seats < seats:
        plan.seats = seats
        plan.save(update_fields=["seats"])
    today = timezone.now().date()
    if current_license(agency) is None:
        License.objects.create(agency=agency, plan=plan, starts_on=today - timedelta(days=1),
                               ends_on=today + timedelta(days=364))


def case_approved(agency: Agency, officer: Any, supervisor: Any) -> int:
    """The officer's own approved bench case (its id), with the permission to search in it."""
    # Approved at set-up, as the demo seed does; one case per officer, so that each officer's
    # search list holds only their own searches.
    case, _ = Case.objects.get_or_create(
        agency=agency, case_number=f"LOAD-{officer.username}",
        defaults={"offence_category": OffenceCategory.ROBBERY,
                  "justification": "Load test: synthetic case for measuring the service.",
                  "authorization_reference": "LOAD-TEST", "opened_by": officer})
    if case.status != CaseStatus.APPROVED or case.expires_at is None \
            or case.expires_at < timezone.now() + timedelta(days=1):
        case.status, case.decided_by, case.decided_at = CaseStatus.APPROVED, supervisor, timezone.now()
        case.expires_at = timezone.now() + timedelta(days=30)
        case.save()
    assign_perm(SEARCH_PERMISSION, officer, case)
    return case.pk

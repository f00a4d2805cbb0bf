"""manage.py seed_demo: two agencies, their people, an approved case and a gallery each. Idempotent."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from guardian.shortcuts import assign_perm

from agencies.accounts.mfa import totp_device_ensure
from agencies.accounts.services import agency_ensure, member_ensure
from agencies.audit.bypass import PlatformCommand
from agencies.billing.models import License, OveragePolicy, Plan
from agencies.billing.selectors import current_license
from agencies.tenancy.models import Agency, Role
from agencies.tenancy.permissions import SYSTEM
from search.lfw import SHARED_LFW
from search.models import Case, CaseStatus, Gallery, LegalBasis, OffenceCategory
from search.selectors import policy_of
from search.services.bulk import folder_enroll, image_files
from search.services.cases import SEARCH_PERMISSION

FIXTURES = Path(settings.BASE_DIR) / "fixtures" / "lfw"
AGENCIES = {
    "demo": ("Demo County Sheriff's Office", {"officer": Role.OFFICER,
             "supervisor": Role.SUPERVISOR, "admin": Role.AGENCY_ADMIN, "auditor": Role.AUDITOR}),
    "other": ("Other City Police Department", {"officer": Role.OFFICER,
              "admin": Role.AGENCY_ADMIN}),
}


class Command(PlatformCommand):
    help = "Create the demo agencies, users, cases and galleries (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--lfw-identities", type=int, default=0,
                            help="Enroll N people from ../shared/data/lfw instead of the fixtures")

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "CASEBOUND_DEMO_ENABLED", False):
            raise CommandError("The demo seed runs only with development settings.")
        password = settings.CASEBOUND_DEMO_PASSWORD
        secret = settings.CASEBOUND_DEMO_TOTP_SECRET
        trained_until = timezone.now().date() + timedelta(days=365)
        operator = member_ensure(agency=None, username="platform-admin", role="",
                                 password=password, is_platform_admin=True)
        totp_device_ensure(user=operator, base32_secret=secret)
        for slug, (name, people) in AGENCIES.items():
            agency = agency_ensure(slug=slug, name=name)
            _demo_license(agency)
            users = {key: member_ensure(agency=agency, username=f"{slug}-{key}", role=role,
                                        password=password, training_valid_until=trained_until)
                     for key, role in people.items()}
            for user in users.values():
                totp_device_ensure(user=user, base32_secret=secret)
            _demo_case(agency, users)
            self._demo_gallery(agency, options["lfw_identities"])
        self.stdout.write(self.style.SUCCESS(_logins(password, secret)))

    def _demo_gallery(self, agency: Agency, identities: int) -> None:
        gallery, _ = Gallery.objects.get_or_create(
            agency=agency, name="Demo booking photos",
            defaults={"source": "LFW photos bundled with Casebound (demo only)",
                      "legal_basis": LegalBasis.ARREST_RECORD})
        root, files = _demo_files(identities)
        report = folder_enroll(actor=SYSTEM, gallery=gallery, root=root, files=files)
        self.stdout.write(f"{agency.slug}: gallery '{gallery.name}': enrolled {report.enrolled}, "
                          f"already there {report.skipped}, failed {len(report.failed)}")


def _demo_files(identities: int) -> tuple[Path, list[Path]]:
    """The photos to enroll: all but the last photo of each person (the last is a demo probe)."""
    root = FIXTURES
    if identities:
        if not SHARED_LFW.is_dir():
            raise CommandError(f"--lfw-identities needs {SHARED_LFW}")
        root = SHARED_LFW
    by_person: dict[str, list[Path]] = {}
    for path in image_files(root) if not identities else _lfw_people(root, identities):
        by_person.setdefault(path.parent.name, []).append(path)
    return root, [p for photos in by_person.values() for p in photos[:-1] or photos]


def _lfw_people(root: Path, count: int) -> list[Path]:
    people = sorted(d for d in root.iterdir() if d.is_dir() and len(list(d.glob("*.jpg"))) >= 2)
    return [p for person in people[:count] for p in sorted(person.glob("*.jpg"))]


def _demo_license(agency: Agency) -> None:
    plan, _ = Plan.objects.get_or_create(name="Demo", defaults={
        "seats": 10, "monthly_search_quota": 200, "overage_policy": OveragePolicy.BILL,
        "overage_price": Decimal("3.50"), "annual_fee_per_seat": Decimal("1200.00"),
        "storage_price_per_1000_faces": Decimal("2.00")})
    today = timezone.now().date()
    if current_license(agency) is None:
        License.objects.create(agency=agency, plan=plan, starts_on=today - timedelta(days=30),
                               ends_on=today + timedelta(days=335))


def _demo_case(agency: Agency, users: dict[str, Any]) -> None:
    # The demo case is approved at seed time; real cases are approved by a supervisor.
    case, created = Case.objects.get_or_create(
        agency=agency, case_number=f"{agency.slug.upper()}-2026-0001",
        defaults={"offence_category": OffenceCategory.ROBBERY,
                  "justification": "Demo: armed robbery of a convenience store, CCTV still.",
                  "authorization_reference": "DEMO-APPROVAL-1", "opened_by": users["officer"]})
    if created or case.expires_at is None or case.expires_at < timezone.now():
        case.status = CaseStatus.APPROVED
        case.decided_by = users.get("supervisor", users["admin"])
        case.decided_at = timezone.now()
        case.expires_at = timezone.now() + timedelta(days=policy_of(agency).authorization_days)
        case.save()
    assign_perm(SEARCH_PERMISSION, users["officer"], case)


def _logins(password: str, secret: str) -> str:
    names = ["platform-admin"] + [f"{slug}-{key}" for slug, (_, people) in AGENCIES.items()
                                  for key in people]
    return (f"Demo logins (password: {password}; second factor: add the TOTP key {secret} to an "
            "authenticator app, or run `make demo-code` for the current code):\n  "
            + "\n  ".join(names))

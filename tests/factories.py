"""factory_boy factories for the cast and the objects they work with."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from guardian.shortcuts import assign_perm

from agencies.accounts.mfa import totp_device_ensure
from agencies.billing.models import License, OveragePolicy, Plan
from agencies.tenancy.models import Agency, Membership
from search.models import Case, CaseStatus, Gallery, LegalBasis, OffenceCategory

PASSWORD = "correct-horse-battery-staple"


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ["name"]

    name = "Standard"
    seats = 25
    monthly_search_quota = 500
    overage_policy = OveragePolicy.REFUSE
    overage_price = Decimal("4.00")
    annual_fee_per_seat = Decimal("1200.00")
    storage_price_per_1000_faces = Decimal("2.50")


class AgencyFactory(factory.django.DjangoModelFactory):
    """An agency with a license, valid from a month ago for a year, on the Standard plan."""

    class Meta:
        model = Agency
        django_get_or_create = ["slug"]
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Agency {n}")
    slug = factory.Sequence(lambda n: f"agency-{n}")

    @factory.post_generation
    def licensed(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted is not False and not License.objects.filter(agency=self).exists():
            today = timezone.now().date()
            License.objects.create(agency=self, plan=PlanFactory(), starts_on=today - timedelta(days=30),
                                   ends_on=today + timedelta(days=335))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            self.save()


TOTP_SECRET = "JBSWY3DPEHPK3PXPTESTTESTTESTTEST"


def member(agency: Agency, role: str, username: str) -> Any:
    """A trained user of `agency` with `role` and an enrolled authenticator (TOTP_SECRET)."""
    user = UserFactory(username=username)
    Membership.objects.create(user=user, agency=agency, role=role,
                              training_valid_until=timezone.now().date() + timedelta(days=365))
    totp_device_ensure(user=user, base32_secret=TOTP_SECRET)
    return user


def platform_operator(username: str = "operator") -> Any:
    """The platform operator: staff and superuser, of no agency, with an enrolled authenticator
    (TOTP_SECRET), since the platform pages and the admin need the second factor too."""
    user = UserFactory(username=username, is_staff=True, is_superuser=True)
    totp_device_ensure(user=user, base32_secret=TOTP_SECRET)
    return user


class GalleryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Gallery

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Gallery {n}")
    source = "County booking system export"
    legal_basis = LegalBasis.ARREST_RECORD


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    agency = factory.SubFactory(AgencyFactory)
    case_number = factory.Sequence(lambda n: f"2026-{n:05d}")
    offence_category = OffenceCategory.ROBBERY
    justification = "CCTV still of an armed robbery"
    authorization_reference = "SUP-APPROVAL-1"
    status = CaseStatus.APPROVED
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))


def assigned_case(agency: Agency, officer: Any, **fields: Any) -> Case:
    """An approved case of the agency that `officer` may search in."""
    case = CaseFactory(agency=agency, opened_by=officer, **fields)
    assign_perm("search.search_in_case", officer, case)
    return case


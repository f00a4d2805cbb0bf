"""Licenses, plans, metered usage and invoices."""

from decimal import Decimal

from django.conf import settings
from django.db import models

from agencies.tenancy.models import Agency
from agencies.tenancy.querysets import TenantQuerySet


class ExcludedJurisdiction(models.Model):
    """Where Casebound is not offered, with the reason (e.g. US-IL after the BIPA settlement)."""

    country = models.CharField(max_length=2)
    region = models.CharField(max_length=10, blank=True, help_text="Empty: the whole country")
    reason = models.CharField(max_length=300)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["country", "region"], name="excluded_once")]

    def __str__(self) -> str:
        return f"{self.country}-{self.region}" if self.region else self.country


class OveragePolicy(models.TextChoices):
    REFUSE = "refuse", "Refuse searches over the quota"
    BILL = "bill", "Bill each search over the quota"


class Plan(models.Model):
    """What a license offers and costs. Money is Decimal, with its currency."""

    name = models.CharField(max_length=100, unique=True)
    seats = models.PositiveIntegerField(help_text="Active officer accounts allowed")
    monthly_search_quota = models.PositiveIntegerField()
    overage_policy = models.CharField(max_length=10, choices=OveragePolicy.choices,
                                      default=OveragePolicy.REFUSE)
    overage_price = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    annual_fee_per_seat = models.DecimalField(max_digits=10, decimal_places=2)
    storage_price_per_1000_faces = models.DecimalField(max_digits=10, decimal_places=2,
                                                       default=Decimal("0.00"))
    currency = models.CharField(max_length=3, default="USD")
    validity_days = models.PositiveIntegerField(default=365)

    def __str__(self) -> str:
        return self.name


class LicenseStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class License(models.Model):
    """An agency's right to use a plan between two dates; the operator may suspend it."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="licenses")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="licenses")
    starts_on = models.DateField()
    ends_on = models.DateField()
    status = models.CharField(max_length=20, choices=LicenseStatus.choices,
                              default=LicenseStatus.ACTIVE)
    suspension_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_on"]

    def __str__(self) -> str:
        return f"{self.agency} on {self.plan} ({self.starts_on} to {self.ends_on})"


class UsageKind(models.TextChoices):
    SEARCH = "search", "Search run"
    STORAGE = "storage", "Faces stored at month end"


class UsageEvent(models.Model):
    """One billable event, recorded once: `key` is unique, so a retried task cannot count twice."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=UsageKind.choices)
    key = models.CharField(max_length=100, unique=True)
    quantity = models.PositiveIntegerField(default=1)
    period = models.DateField(help_text="First day of the month it counts in")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["agency", "kind", "period"])]

    def __str__(self) -> str:
        return self.key


class Invoice(models.Model):
    """A month's bill for one agency; its total is the sum of its lines, to the cent."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=40, unique=True)
    period = models.DateField(help_text="First day of the month billed")
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    issued_at = models.DateTimeField()

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-period"]
        constraints = [models.UniqueConstraint(fields=["agency", "period"], name="invoice_per_month")]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(max_length=200)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4)
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    def __str__(self) -> str:
        return self.description

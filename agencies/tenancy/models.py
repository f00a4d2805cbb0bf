"""Tenants (agencies) and the people who act for them."""

from django.conf import settings
from django.db import models

from agencies.tenancy.querysets import TenantQuerySet
from portal.recipes import default_recipe_name


class AgencyKind(models.TextChoices):
    LAW_ENFORCEMENT = "law_enforcement", "Law-enforcement agency"
    GOVERNMENT = "government", "Other government body"
    PRIVATE = "private_company", "Private company"


class Agency(models.Model):
    """A public body that holds a Casebound license; the tenant of every case, gallery and search."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    kind = models.CharField(max_length=30, choices=AgencyKind.choices,
                            default=AgencyKind.LAW_ENFORCEMENT)
    country = models.CharField(max_length=2, default="US", help_text="ISO 3166-1 alpha-2")
    region = models.CharField(max_length=10, blank=True, help_text="ISO 3166-2 subdivision, e.g. IL")
    created_at = models.DateTimeField(auto_now_add=True)
    # The recipe (portal/recipes.py) that embeds this agency's faces and probes; changed only by a
    # re-embedding job, which moves every face's vector in the same transaction.
    face_recipe = models.CharField(max_length=40, default=default_recipe_name)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OFFICER = "officer", "Officer / analyst"
    SUPERVISOR = "supervisor", "Supervisor"
    AGENCY_ADMIN = "agency_admin", "Agency admin"
    AUDITOR = "auditor", "Auditor"


# Who works cases: opens them, is assigned to them, searches in them and reviews candidates.
INVESTIGATORS = (Role.OFFICER, Role.SUPERVISOR)
# Who reads the agency's audit trail and its oversight figures.
AUDIT_READERS = (Role.AUDITOR, Role.AGENCY_ADMIN)


class Membership(models.Model):
    """Binds a user to exactly one agency with one role. Platform staff have no membership."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    training_valid_until = models.DateField(
        null=True, blank=True, help_text="The account works only while its training is current")
    # A new supervisor, admin or auditor account cannot sign in until a second person approves it.
    awaiting_approval = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.agency})"

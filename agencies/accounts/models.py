"""Invitations and the requests that need a second person to approve a privileged role."""

from django.conf import settings
from django.db import models

from agencies.tenancy.models import Agency, Role
from agencies.tenancy.querysets import TenantQuerySet


class Invitation(models.Model):
    """A link that lets a new person create their account in an agency, for a limited time."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="invitations")
    token = models.CharField(max_length=64, unique=True)
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.agency}"


# Roles that approve cases and confirm leads, or read every case's results (the auditor): granting
# one needs a second person (dual control).
PRIVILEGED_ROLES = (Role.SUPERVISOR, Role.AGENCY_ADMIN, Role.AUDITOR)


class RoleRequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a second approval"
    APPROVED = "approved", "Approved"
    REFUSED = "refused", "Refused"


class RoleRequest(models.Model):
    """A privileged role asked for one member by one admin; it takes effect only when another
    admin of the agency (or the operator, for an agency with one admin) approves it."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=20, choices=Role.choices)
    new_account = models.BooleanField(default=False,
                                      help_text="The account was created for this role and waits")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=20, choices=RoleRequestStatus.choices,
                              default=RoleRequestStatus.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["requested_at"]
        constraints = [models.UniqueConstraint(fields=["user"], condition=models.Q(status="pending"),
                                               name="one_pending_role_request_per_user")]

    def __str__(self) -> str:
        return f"{self.user} as {self.get_role_display()} ({self.get_status_display()})"

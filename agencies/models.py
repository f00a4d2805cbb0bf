"""Tenants (agencies) and the people who act for them."""

from decimal import Decimal

from django.conf import settings
from django.db import models

from agencies.tenancy import TenantQuerySet


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


class Membership(models.Model):
    """Binds a user to exactly one agency with one role. Platform staff have no membership."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    training_valid_until = models.DateField(
        null=True, blank=True, help_text="The account works only while its training is current")
    # A new supervisor or admin account cannot sign in until a second person approves its role.
    awaiting_approval = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.agency})"


class AuditAction(models.TextChoices):
    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    TOKEN_ISSUED = "token_issued", "API token issued"
    CASE_OPENED = "case_opened", "Case opened"
    CASE_APPROVED = "case_approved", "Case approved"
    CASE_REJECTED = "case_rejected", "Case rejected"
    CASE_EXPIRED = "case_expired", "Case authorization expired"
    OFFICER_ASSIGNED = "officer_assigned", "Officer assigned to case"
    SEARCH_RUN = "search_run", "Search run"
    SEARCH_REFUSED = "search_refused", "Search refused"
    RESULTS_VIEWED = "results_viewed", "Results viewed"
    REVIEW_DECISION = "review_decision", "Review decision"
    EXPORT = "export", "Export"
    GALLERY_CREATED = "gallery_created", "Gallery created"
    ENROLLMENT = "enrollment", "Face enrolled"
    DELETION = "deletion", "Deletion"
    ROLE_CHANGED = "role_changed", "Role or permission changed"
    SETTINGS_CHANGED = "settings_changed", "Settings changed"
    MFA_ENROLLED = "mfa_enrolled", "MFA enrolled"
    MFA_FAILED = "mfa_failed", "MFA code refused"
    ACCOUNT_LOCKED = "account_locked", "Account locked"
    ACCOUNT_UNLOCKED = "account_unlocked", "Account unlocked"
    ACCOUNT_DISABLED = "account_disabled", "Account disabled"
    SESSION_EXPIRED = "session_expired", "Session expired"
    OPT_OUT_RECEIVED = "opt_out_received", "Opt-out request received"
    OPT_OUT_DECIDED = "opt_out_decided", "Opt-out request decided"
    ENROLLMENT_SUPPRESSED = "enrollment_suppressed", "Enrollment refused: opted out"
    ERASURE_ORDER = "erasure_order", "Erasure by court order"
    PURGE = "purge", "Retention purge"
    CASE_CLOSED = "case_closed", "Case closed"
    AGENCY_CREATED = "agency_created", "Agency created"
    AGENCY_REFUSED = "agency_refused", "Agency refused"
    LICENSE_CHANGED = "license_changed", "License changed"
    LICENSE_REFUSED = "license_refused", "Search refused by license"
    INVOICE_ISSUED = "invoice_issued", "Invoice issued"
    INVITATION_SENT = "invitation_sent", "Invitation sent"
    ACCOUNT_CREATED = "account_created", "Account created"
    PLATFORM_BYPASS = "platform_bypass", "Platform job saw every agency's rows"
    PLAN_CHANGED = "plan_changed", "Plan created, changed or deleted"
    MFA_RESET = "mfa_reset", "Second factor reset"
    ROLE_REQUESTED = "role_requested", "Privileged role requested"
    ROLE_APPROVED = "role_approved", "Privileged role approved"
    ROLE_REFUSED = "role_refused", "Privileged role refused"
    IMAGE_VIEWED = "image_viewed", "Face or probe image viewed"
    OPT_OUT_CONFIRMED = "opt_out_confirmed", "Opt-out e-mail address confirmed"
    OPT_OUT_CONSULTED = "opt_out_consulted", "Opt-out matches sent to the agencies holding them"
    OPT_OUT_ANSWERED = "opt_out_answered", "Agency confirmed or objected to an opt-out"
    OPT_OUT_RESTORED = "opt_out_restored", "Faces removed by an opt-out restored"
    OPT_OUT_EXPIRED = "opt_out_expired", "Unconfirmed opt-out requests purged"
    TRAINING_RECORDED = "training_recorded", "Training recorded"


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    REFUSED = "refused", "Refused"
    FAILURE = "failure", "Failure"


class AuditEvent(models.Model):
    """One append-only, hash-chained record of a security-relevant action.

    Each agency has its own chain (platform events use chain 0), so agencies append without
    waiting on each other and an auditor can verify one agency's trail on its own. The database
    refuses UPDATE, DELETE and TRUNCATE on this table (triggers in migrations 0003 and
    the audit guards), and signed checkpoints outside it show a rewrite by its owner.
    """

    chain = models.BigIntegerField(help_text="Agency id, or 0 for platform-wide events")
    seq = models.BigIntegerField(help_text="Position in the chain, from 1, without gaps")
    at = models.DateTimeField()
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    outcome = models.CharField(max_length=20, choices=AuditOutcome.choices,
                               default=AuditOutcome.SUCCESS)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq")]
        indexes = [models.Index(fields=["agency", "at"]), models.Index(fields=["agency", "action"])]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.action} by {self.actor_name or 'system'}"


class AuditChainHead(models.Model):
    """The last link of each chain: the append lock, and the anchor that shows a deleted tail."""

    chain = models.BigIntegerField(primary_key=True)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"chain {self.chain} at {self.seq}"


class AuditCheckpoint(models.Model):
    """A chain's head as signed by the checkpoint job, published on /transparency/.

    The signed copy that counts is the line in the checkpoint file outside the database
    (agencies/checkpoints.py); this row only lets the public page show the latest heads.
    """

    chain = models.BigIntegerField()
    chain_name = models.CharField(max_length=200, help_text="The agency's name when signed")
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    public_key = models.CharField(max_length=64, help_text="Ed25519, base64 of the raw 32 bytes")
    signature = models.CharField(max_length=100, help_text="Ed25519, base64")

    class Meta:
        indexes = [models.Index(fields=["chain", "-signed_at"])]

    def __str__(self) -> str:
        return f"chain {self.chain} signed at {self.seq}"


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

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.agency}"


# Roles that approve cases and confirm leads: granting one needs a second person (dual control).
PRIVILEGED_ROLES = (Role.SUPERVISOR, Role.AGENCY_ADMIN)


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

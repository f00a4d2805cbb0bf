"""Tenants (agencies) and the people who act for them."""

from django.conf import settings
from django.db import models

from agencies.tenancy import TenantQuerySet


class Agency(models.Model):
    """A public body that holds a Casebound license; the tenant of every case, gallery and search."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
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


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    REFUSED = "refused", "Refused"
    FAILURE = "failure", "Failure"


class AuditEvent(models.Model):
    """One append-only, hash-chained record of a security-relevant action.

    Each agency has its own chain (platform events use chain 0), so agencies append without
    waiting on each other and an auditor can verify one agency's trail on its own. The database
    refuses UPDATE and DELETE on this table (trigger in migration 0002).
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

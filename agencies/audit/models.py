"""The audit trail's rows: events in per-agency hash chains, their heads and signed checkpoints."""

from django.conf import settings
from django.db import models

from agencies.tenancy.models import Agency
from agencies.tenancy.querysets import TenantQuerySet


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
    BACKUP_RESTORED = "backup_restored", "Installation restored from a backup"
    REEMBED_STARTED = "reembed_started", "Re-embedding of the galleries under another recipe started"
    REEMBED_FINISHED = "reembed_finished", "Agency switched to another face recipe"
    REEMBED_FAILED = "reembed_failed", "Re-embedding failed; the agency kept its recipe"
    WEAK_CANDIDATES_VIEWED = "weak_candidates_viewed", "Weak candidates below the line opened"
    INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"
    INVITATION_RESENT = "invitation_resent", "Invitation sent again with a new link"
    GALLERY_CHANGED = "gallery_changed", "Gallery settings changed"


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
    # The request (or the task it queued) that wrote the event, as its log lines name it.
    request_id = models.CharField(max_length=64, blank=True, default="")
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
    (agencies/audit/checkpoints.py); this row only lets the public page show the latest heads.
    """

    chain = models.BigIntegerField()
    chain_name = models.CharField(max_length=200, help_text="The agency's name when signed")
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    public_key = models.CharField(max_length=64, help_text="Ed25519, base64 of the raw 32 bytes")
    signature = models.CharField(max_length=100, help_text="Ed25519, base64")
    links_sha256 = models.CharField(max_length=64, blank=True,
                                    help_text="The signed digest of the links, so the row verifies")

    class Meta:
        indexes = [models.Index(fields=["chain", "-signed_at"])]

    def __str__(self) -> str:
        return f"chain {self.chain} signed at {self.seq}"

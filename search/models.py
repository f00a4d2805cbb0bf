"""Galleries of enrolled faces, cases, searches and their candidates."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from guardian.models import UserObjectPermissionBase
from pgvector.django import VectorField

from agencies.tenancy.querysets import TenantModel, TenantQuerySet
from search.validators import (
    GALLERY_RETENTION_DAYS,
    MAX_RETENTION_DAYS,
    RETENTION_DAYS,
    validate_finite,
)


class LegalBasis(models.TextChoices):
    ARREST_RECORD = "arrest_record", "Arrest / booking record"
    WARRANT = "warrant", "Outstanding warrant"
    COURT_ORDER = "court_order", "Court order"
    MISSING_PERSON = "missing_person", "Missing person report (with consent of family)"
    OTHER_STATUTE = "other_statute", "Other statutory basis"


# The purpose of a gallery is its legal basis. Only a gallery held under "other statutory basis"
# may honour public opt-outs: a warrant, a missing-person report, a court order or an arrest
# record is held under a duty that a member of the public cannot waive for someone else.
OPT_OUT_BASES = (LegalBasis.OTHER_STATUTE,)


class Gallery(TenantModel):
    """A set of faces an agency lawfully holds, with where they came from and why it may hold them."""

    name = models.CharField(max_length=200)
    source = models.CharField(max_length=300, help_text="Where the photos come from")
    legal_basis = models.CharField(max_length=30, choices=LegalBasis.choices)
    honours_opt_outs = models.BooleanField(
        default=False, help_text="Approved public opt-outs remove matching faces from this gallery "
                                 "(only for galleries under other statutory basis)")
    retention_days = models.PositiveIntegerField(
        null=True, blank=True, validators=GALLERY_RETENTION_DAYS,
        help_text="Faces older than this are purged; empty keeps them")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="gallery_unique_name"),
            models.CheckConstraint(  # also binds the Django admin and hand-written SQL
                condition=models.Q(honours_opt_outs=False)
                | models.Q(legal_basis__in=[str(b) for b in OPT_OUT_BASES]),
                name="gallery_opt_outs_only_other_statute",
                violation_error_message="Only a gallery held under another statutory basis may "
                                        "honour opt-outs; warrant, missing-person, court-order and "
                                        "arrest galleries never do."),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def opt_outs_apply(self) -> bool:
        """Whether public opt-outs remove faces from, and suppress enrollment into, this gallery."""
        return self.honours_opt_outs and self.legal_basis in OPT_OUT_BASES


class Subject(TenantModel):
    """A person record in one gallery."""

    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="subjects")
    reference = models.CharField(max_length=100)
    display_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["reference"]
        constraints = [
            models.UniqueConstraint(fields=["gallery", "reference"], name="subject_unique_ref")
        ]

    def __str__(self) -> str:
        return self.display_name or self.reference


class LiveFaceManager(models.Manager["Face"]):
    """Faces not removed: what every search, listing and image view sees."""

    def get_queryset(self) -> TenantQuerySet[Face]:
        return TenantQuerySet(self.model, using=self._db).filter(removed_at__isnull=True)

    def for_agency(self, agency: Any) -> TenantQuerySet[Face]:
        return self.get_queryset().for_agency(agency)


class Face(TenantModel):
    """One enrolled face: an aligned crop, its embedding and how both were made.

    A face removed by an opt-out stays for a grace period (restorable) with `removed_at` set;
    `objects` never shows it, so no search or listing can; `all_objects` is for restore and purge.
    """

    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="faces")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="faces")
    image = models.ImageField(upload_to="faces/%Y/%m/")
    # The enrolled photo, re-encoded without metadata: what a recipe with another alignment needs.
    # Empty for faces enrolled before it was kept (those re-embed from the chip only).
    source_image = models.ImageField(upload_to="faces/sources/%Y/%m/", blank=True, db_default="")
    # No dimension on the column: each recipe has its own (portal/recipes.py), and agencies of
    # different recipes share the table. Every query casts to the recipe's dimension, which is
    # also the expression of the agency's HNSW graph (search/engine/vector_index.py).
    embedding = VectorField()
    model_name = models.CharField(max_length=40)
    # The vector under the recipe a running re-embedding job moves the agency to; searches never
    # read it. The switch copies it into `embedding` and clears it, in one transaction.
    embedding_next = VectorField(null=True, blank=True)
    detector = models.CharField(max_length=40)
    box = models.JSONField(help_text="Face box in the source photo: x, y, width, height")
    quality = models.FloatField(help_text="Detector confidence")
    provenance = models.CharField(max_length=300, blank=True)
    source_sha256 = models.CharField(
        max_length=64, blank=True,
        help_text="SHA-256 of the photo enrolled; the same photo is enrolled once per gallery "
                  "(empty for faces enrolled before it was recorded)")
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True,
                                      help_text="Soft-removed by an opt-out; purged after the grace")
    removed_by_opt_out = models.ForeignKey("OptOutRequest", null=True, blank=True,
                                           on_delete=models.SET_NULL, related_name="+")
    # Its cohort in its own agency (search/engine/scoring.py): mean and spread of its similarities
    # to its nearest faces of other subjects; empty until computed (the agency's typical is used).
    cohort_mean = models.FloatField(null=True, blank=True)
    cohort_std = models.FloatField(null=True, blank=True)

    objects = LiveFaceManager()  # type: ignore[assignment,misc]
    all_objects = TenantQuerySet.as_manager()

    class Meta:
        default_manager_name = "objects"
        indexes = [models.Index(fields=["gallery", "model_name"])]
        constraints = [models.UniqueConstraint(
            fields=["gallery", "source_sha256"], condition=~models.Q(source_sha256=""),
            name="face_photo_once_per_gallery")]


class CohortState(TenantModel):
    """When an agency's face cohorts were last computed for a recipe, and their typical values.

    A face's cohort goes stale as faces are enrolled and removed around it; the maintenance task
    recomputes the agency when enough has changed since `refreshed_at` (search/services/cohorts.py).
    """

    model_name = models.CharField(max_length=40)
    faces = models.PositiveIntegerField(default=0, help_text="Live faces when last computed")
    refreshed_at = models.DateTimeField()
    typical_mean = models.FloatField(null=True, help_text="Median cohort mean of the faces")
    typical_std = models.FloatField(null=True, help_text="Median cohort spread of the faces")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "model_name"],
                                               name="cohort_state_once_per_recipe")]


class OffenceCategory(models.TextChoices):
    VIOLENT_FELONY = "violent_felony", "Violent felony"
    SEXUAL_OFFENCE = "sexual_offence", "Sexual offence"
    ROBBERY = "robbery", "Robbery"
    HOME_INVASION = "home_invasion", "Home invasion"
    HOMICIDE = "homicide", "Homicide"
    KIDNAPPING = "kidnapping", "Kidnapping"
    MISSING_PERSON = "missing_person", "Missing or endangered person"
    DECEASED_ID = "deceased_identification", "Identification of a deceased person"
    THEFT = "theft", "Theft"
    FRAUD = "fraud", "Fraud"
    OTHER = "other", "Other"


DEFAULT_ALLOWED_OFFENCES = [
    OffenceCategory.VIOLENT_FELONY, OffenceCategory.SEXUAL_OFFENCE, OffenceCategory.ROBBERY,
    OffenceCategory.HOME_INVASION, OffenceCategory.HOMICIDE, OffenceCategory.KIDNAPPING,
    OffenceCategory.MISSING_PERSON, OffenceCategory.DECEASED_ID,
]


MAX_CANDIDATES = 50  # the longest candidate list a policy may ask for
# The agency's line as a false-match rate (docs/benchmarks.md, "Calibration"): 1% by default, from
# 0.01% (stricter is beyond what the calibration measured) to 10% (looser lists mostly strangers).
DEFAULT_TARGET_FMR = 0.01
MIN_TARGET_FMR = 0.0001
MAX_TARGET_FMR = 0.10
MAX_AUTHORIZATION_DAYS = 365  # a case authorization lasts at most a year, then is renewed


def default_allowed_offences() -> list[str]:
    return [str(category) for category in DEFAULT_ALLOWED_OFFENCES]


class SearchPolicy(models.Model):
    """An agency's rules for face search, set by its admin; anything not allowed is refused."""

    agency = models.OneToOneField("agencies.Agency", on_delete=models.CASCADE,
                                  related_name="search_policy")
    allowed_offences = ArrayField(models.CharField(max_length=40, choices=OffenceCategory.choices),
                                  default=default_allowed_offences)
    max_candidates = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(1), MaxValueValidator(MAX_CANDIDATES)])
    target_false_match_rate = models.FloatField(
        default=DEFAULT_TARGET_FMR,
        validators=[validate_finite, MinValueValidator(MIN_TARGET_FMR),
                    MaxValueValidator(MAX_TARGET_FMR)],
        help_text="The line: the chance, at most, that a person who is not enrolled has a "
                  "candidate above it (the score follows from the gallery's size at each search)")
    authorization_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(MAX_AUTHORIZATION_DAYS)])
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Search policy of {self.agency}"

    @property
    def target_text(self) -> str:
        """The target false-match rate as '1%' (rounded to what a person reads)."""
        return f"{round(self.target_false_match_rate * 100, 4):g}%"

    def snapshot(self) -> dict[str, Any]:
        """The rules in force, as stored with each search and printed in disclosure reports."""
        return {"allowed_offences": list(self.allowed_offences),
                "max_candidates": self.max_candidates,
                "target_false_match_rate": self.target_false_match_rate,
                "authorization_days": self.authorization_days}


class CaseStatus(models.TextChoices):
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Authorization expired"
    CLOSED = "closed", "Closed"


class Case(TenantModel):
    """An investigation that searches must be bound to."""

    case_number = models.CharField(max_length=60)
    offence_category = models.CharField(max_length=40, choices=OffenceCategory.choices)
    justification = models.TextField(blank=True)
    authorization_reference = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.PENDING)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("search_in_case", "May run searches in this case")]
        constraints = [
            models.UniqueConstraint(fields=["agency", "case_number"], name="case_unique_number")
        ]

    def __str__(self) -> str:
        return self.case_number


class CaseUserObjectPermission(UserObjectPermissionBase):
    """Direct-FK guardian table: per-case grants stay fast without the generic-FK join."""

    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class SearchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    NO_FACE = "no_face", "No face found"
    FAILED = "failed", "Failed"


FINISHED_STATUSES = (SearchStatus.DONE, SearchStatus.NO_FACE, SearchStatus.FAILED)


class SearchStage(models.TextChoices):
    """Where a search is in the pipeline; the worker writes it as it goes, outside the run's
    transactions, so that the page and the API see it move. A search that stops early (no face,
    failure) keeps the stage it stopped in."""

    QUEUED = "queued", "Queued"
    FINDING_FACES = "finding_faces", "Finding faces"
    EMBEDDING = "embedding", "Embedding"
    SEARCHING = "searching", "Searching"
    DONE = "done", "Done"


MAX_FACE_INDEX = 99  # a probe's face is asked for by its number; no crowd photo has more


class Search(TenantModel):
    """One probe photo searched against the agency's galleries, within a case."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="searches")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    probe = models.ImageField(upload_to="probes/%Y/%m/")
    probe_face = models.ImageField(upload_to="probes/%Y/%m/", blank=True)
    probe_purged_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=SearchStatus.choices, default=SearchStatus.QUEUED)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    faces_found = models.PositiveIntegerField(null=True, blank=True)
    probe_box = models.JSONField(null=True, blank=True)
    stage = models.CharField(max_length=20, choices=SearchStage.choices, default=SearchStage.QUEUED)
    faces = models.JSONField(default=list, blank=True,
                             help_text="Every face found in the probe, largest first: x, y, width, height")
    face_index = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The face searched (0 = the largest); null: the largest")
    model_name = models.CharField(max_length=40, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    # What drew the line: the agency's target and the size of the gallery searched (the raw
    # threshold above follows from both and the calibration table of `model_name`).
    target_false_match_rate = models.FloatField(null=True, blank=True)
    gallery_size = models.PositiveIntegerField(null=True, blank=True)
    # The score the line was drawn on and the candidates ordered by (search.engine.calibration
    # SCORE_KINDS); blank: run before there were two, on the normalized score.
    score_kind = models.CharField(max_length=40, blank=True, default="")
    policy = models.JSONField(default=dict, blank=True, help_text="The policy in force when run")
    attempts = models.PositiveSmallIntegerField(default=0)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per pipeline stage")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=200, blank=True, default="",
                                  help_text="The worker process running it (host:pid:instance)")
    # The officer's request's X-Request-ID: a run queued again after its worker died carries it.
    request_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "searches"
        indexes = [models.Index(fields=["status", "created_at"])]

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def elapsed_seconds(self) -> float:
        """Since the search was requested, until it finished (or now, while it runs)."""
        end = self.finished_at or timezone.now()
        return round(max(0.0, (end - self.created_at).total_seconds()), 1)

    @property
    def target_text(self) -> str:
        """The agency's target false-match rate in force for this search, as '1%'."""
        rate = self.target_false_match_rate
        return "" if rate is None else f"{round(rate * 100, 4):g}%"

    @property
    def line_text(self) -> str:
        """The line as the score it was drawn on: 'similarity 0.934 or more'."""
        from search.engine.calibration import SCORE_KIND_NORMALIZED, score_text

        if self.threshold is None:
            return ""
        return f"{score_text(self.score_kind or SCORE_KIND_NORMALIZED, self.threshold)} or more"


class CandidateStatus(models.TextChoices):
    UNREVIEWED = "unreviewed", "Not reviewed"
    AWAITING_SECOND = ("awaiting_second",
                       "Possible lead for one reviewer; needs a second, one of the two a supervisor")
    AWAITING_SUPERVISOR = ("awaiting_supervisor",
                           "Possible lead for two officers; a supervisor must confirm")
    POSSIBLE_LEAD = "possible_lead", "Possible lead (two reviewers, one a supervisor)"
    NOT_A_MATCH = "not_a_match", "Not a match"
    DISPUTED = "disputed", "Reviewers disagree"


class Band(models.TextChoices):
    """What a candidate's score means against the agency's line (search.engine.calibration.band)."""

    STRONG = "strong", "Strong"
    POSSIBLE = "possible", "Possible"
    WEAK = "weak", "Weak (below the line)"


class Candidate(TenantModel):
    """A ranked investigative lead a search returned. Never an identification."""

    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="candidates")
    face = models.ForeignKey(Face, null=True, on_delete=models.SET_NULL, related_name="+")
    subject = models.ForeignKey(Subject, null=True, on_delete=models.SET_NULL, related_name="+")
    gallery = models.ForeignKey(Gallery, null=True, on_delete=models.SET_NULL, related_name="+")
    rank = models.PositiveSmallIntegerField()
    similarity = models.FloatField(help_text="Raw cosine similarity of probe and face")
    score = models.FloatField(null=True, help_text="Normalized score that orders the candidates "
                              "(search/engine/scoring.py); empty for searches before it")
    band = models.CharField(max_length=10, choices=Band.choices, default=Band.POSSIBLE)
    false_match_estimate = models.FloatField(
        null=True, blank=True, help_text="Estimated chance that a person who is not enrolled "
        "scores this high in a gallery of this size")
    status = models.CharField(max_length=20, choices=CandidateStatus.choices,
                              default=CandidateStatus.UNREVIEWED)
    redacted = models.CharField(max_length=200, blank=True,
                                help_text="Why the face is gone, e.g. removed by court order")

    class Meta:
        ordering = ["search", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["search", "rank"], name="candidate_unique_rank")
        ]

    @property
    def shown_face(self) -> Face | None:
        """The face, unless it is erased or removed by an opt-out (restorable for a grace period):
        meanwhile nobody sees, prints or reviews it, on any path."""
        face = self.face
        return face if face is not None and face.removed_at is None else None

    @property
    def false_match_text(self) -> str:
        from search.engine.calibration import one_in

        return "" if self.false_match_estimate is None else one_in(self.false_match_estimate)

    @property
    def is_weak(self) -> bool:
        return self.band == Band.WEAK

    @property
    def withdrawn(self) -> bool:
        return self.shown_face is None

    @property
    def shown_subject(self) -> Subject | None:
        """The subject, unless its face is removed by an opt-out for now (an erased face's
        subject is already gone)."""
        face = self.face
        return None if face is not None and face.removed_at is not None else self.subject


class ReviewDecision(models.TextChoices):
    POSSIBLE_LEAD = "possible_lead", "Possible lead"
    NOT_A_MATCH = "not_a_match", "Not a match"


class Review(TenantModel):
    """One person's decision on one candidate. Decisions are final: a second look is a new person."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="+")
    decision = models.CharField(max_length=20, choices=ReviewDecision.choices)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["candidate", "reviewer"], name="review_once_per_person")
        ]


class RetentionPolicy(models.Model):
    """How long an agency keeps what searches produce; the daily purge applies it."""

    agency = models.OneToOneField("agencies.Agency", on_delete=models.CASCADE,
                                  related_name="retention_policy")
    probe_days_after_close = models.PositiveIntegerField(default=90, validators=RETENTION_DAYS)
    probe_max_days = models.PositiveIntegerField(default=MAX_RETENTION_DAYS, validators=RETENTION_DAYS)
    unconfirmed_candidate_days = models.PositiveIntegerField(
        default=365, validators=RETENTION_DAYS,
        help_text="Candidates no one confirmed as a lead are purged after this")
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Retention of {self.agency}"


class OptOutStatus(models.TextChoices):
    PENDING = "pending", "Awaiting review"
    APPROVED = "approved", "Approved: faces removed and suppressed"
    REJECTED = "rejected", "Rejected"
    UNCONFIRMED = "unconfirmed", "Waiting for the e-mail address to be confirmed"
    CONSULTING = "consulting", "Agencies holding matching faces are consulted"
    RESTORED = "restored", "Removal undone by the operator"


class OptOutRequest(models.Model):
    """A member of the public asking to be removed. The photo is kept only until the decision."""

    photo = models.ImageField(upload_to="optouts/%Y/%m/", blank=True)
    embedding = VectorField(null=True)  # of the recipe `model_name`
    model_name = models.CharField(max_length=40)
    email = models.EmailField()
    residence = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=OptOutStatus.choices,
                              default=OptOutStatus.UNCONFIRMED)
    # Only a hash of the confirmation link's token is stored: the link is the proof of the mailbox.
    confirmation_digest = models.CharField(max_length=64, blank=True, db_index=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    objection_deadline = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    faces_removed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Opt-out {self.pk} ({self.status})"


class AgencyAnswer(models.TextChoices):
    AWAITING = "awaiting", "Awaiting the agency's answer"
    CONFIRMED = "confirmed", "Confirmed by the agency"
    OBJECTED = "objected", "Objected: the agency keeps its faces"
    LAPSED = "lapsed", "No answer by the deadline: counted as confirmed"


class OptOutConsultation(TenantModel):
    """One agency's say on an opt-out that matched its faces; only that agency sees the faces."""

    request = models.ForeignKey(OptOutRequest, on_delete=models.CASCADE,
                                related_name="consultations")
    face_ids = ArrayField(models.BigIntegerField(), help_text="The agency's matching faces")
    answer = models.CharField(max_length=20, choices=AgencyAnswer.choices,
                              default=AgencyAnswer.AWAITING)
    reason = models.TextField(blank=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    answered_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["request", "agency"],
                                               name="consultation_once_per_agency")]

    def __str__(self) -> str:
        return f"Opt-out {self.request_id} at agency {self.agency_id}"


class Suppression(models.Model):
    """A face that must never be enrolled again in a gallery honouring opt-outs: the embedding
    only, never a photo. One row per registered recipe, made before the photo is deleted, so the
    check still works after an agency moves to another recipe."""

    embedding = VectorField()  # of the recipe `model_name`
    model_name = models.CharField(max_length=40)
    request = models.ForeignKey(OptOutRequest, on_delete=models.PROTECT,
                                related_name="suppressions")
    exempt_agency_ids = ArrayField(models.BigIntegerField(), default=list, blank=True,
                                   help_text="Agencies that objected: they keep enrolling this face")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "model_name"],
                                               name="suppression_once_per_recipe")]

    def __str__(self) -> str:
        return f"Suppression {self.pk}"


class ErasureOrder(TenantModel):
    """A court order (expungement, acquittal, deletion) that removed a subject."""

    order_reference = models.CharField(max_length=120)
    order_type = models.CharField(max_length=30, default="deletion")
    subject_reference = models.CharField(max_length=100, help_text="As it was, for the record")
    faces_removed = models.PositiveIntegerField(default=0)
    candidates_redacted = models.PositiveIntegerField(default=0)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Order {self.order_reference}"


class BatchStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class EnrollmentBatch(TenantModel):
    """A ZIP of photos with a CSV manifest, enrolled by Celery tasks on every core."""

    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="batches")
    archive = models.FileField(upload_to="batches/%Y/%m/")
    archive_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=BatchStatus.choices, default=BatchStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "enrollment batches"

    def __str__(self) -> str:
        return f"Batch {self.pk} ({self.total} photos)"


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Enrolled"
    DUPLICATE = "duplicate", "Already enrolled"
    FAILED = "failed", "Failed"


class EnrollmentItem(TenantModel):
    """One photo of a batch: its manifest line and its outcome."""

    batch = models.ForeignKey(EnrollmentBatch, on_delete=models.CASCADE, related_name="items")
    file_name = models.CharField(max_length=300)
    subject_reference = models.CharField(max_length=100)
    display_name = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=300, blank=True)
    taken_on = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    face = models.ForeignKey(Face, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    claimed_by = models.CharField(max_length=200, blank=True, default="",
                                  help_text="The worker process enrolling it (host:pid:instance)")

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["batch", "status"])]

    def __str__(self) -> str:
        return self.file_name


class ReembedStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Re-embedding"
    DONE = "done", "Done: the agency uses the new recipe"
    FAILED = "failed", "Failed"


ACTIVE_REEMBED = (ReembedStatus.QUEUED, ReembedStatus.RUNNING)


class ReembedJob(TenantModel):
    """Moving an agency's faces from one recipe to another; at most one active job per agency."""

    from_recipe = models.CharField(max_length=40)
    to_recipe = models.CharField(max_length=40)
    status = models.CharField(max_length=20, choices=ReembedStatus.choices,
                              default=ReembedStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the switch's follow-up (the agency's graph and cohorts for the new recipe) finished;
    # a done job without it is run again by the sweeper until it has.
    followed_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(
            fields=["agency"], condition=models.Q(status__in=["queued", "running"]),
            name="reembed_one_active_per_agency")]

    def __str__(self) -> str:
        return f"{self.from_recipe} -> {self.to_recipe} ({self.status})"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

"""Galleries of enrolled faces, cases, searches and their candidates."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from guardian.models import UserObjectPermissionBase
from pgvector.django import VectorField

from agencies.tenancy import TenantModel

EMBEDDING_DIMENSIONS = 128


class LegalBasis(models.TextChoices):
    ARREST_RECORD = "arrest_record", "Arrest / booking record"
    WARRANT = "warrant", "Outstanding warrant"
    COURT_ORDER = "court_order", "Court order"
    MISSING_PERSON = "missing_person", "Missing person report (with consent of family)"
    OTHER_STATUTE = "other_statute", "Other statutory basis"


class Gallery(TenantModel):
    """A set of faces an agency lawfully holds, with where they came from and why it may hold them."""

    name = models.CharField(max_length=200)
    source = models.CharField(max_length=300, help_text="Where the photos come from")
    legal_basis = models.CharField(max_length=30, choices=LegalBasis.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="gallery_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


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


class Face(TenantModel):
    """One enrolled face: an aligned crop, its embedding and how both were made."""

    gallery = models.ForeignKey(Gallery, on_delete=models.CASCADE, related_name="faces")
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="faces")
    image = models.ImageField(upload_to="faces/%Y/%m/")
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    model_name = models.CharField(max_length=40)
    detector = models.CharField(max_length=40)
    box = models.JSONField(help_text="Face box in the source photo: x, y, width, height")
    quality = models.FloatField(help_text="Detector confidence")
    provenance = models.CharField(max_length=300, blank=True)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["gallery", "model_name"])]


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


class CaseStatus(models.TextChoices):
    PENDING = "pending", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
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


class Search(TenantModel):
    """One probe photo searched against the agency's galleries, within a case."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="searches")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    probe = models.ImageField(upload_to="probes/%Y/%m/")
    probe_face = models.ImageField(upload_to="probes/%Y/%m/", blank=True)
    status = models.CharField(max_length=20, choices=SearchStatus.choices, default=SearchStatus.QUEUED)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    faces_found = models.PositiveIntegerField(null=True, blank=True)
    probe_box = models.JSONField(null=True, blank=True)
    model_name = models.CharField(max_length=40, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per pipeline stage")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "searches"
        indexes = [models.Index(fields=["status", "created_at"])]

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class Candidate(TenantModel):
    """A ranked investigative lead a search returned. Never an identification."""

    search = models.ForeignKey(Search, on_delete=models.CASCADE, related_name="candidates")
    face = models.ForeignKey(Face, null=True, on_delete=models.SET_NULL, related_name="+")
    subject = models.ForeignKey(Subject, null=True, on_delete=models.SET_NULL, related_name="+")
    gallery = models.ForeignKey(Gallery, null=True, on_delete=models.SET_NULL, related_name="+")
    rank = models.PositiveSmallIntegerField()
    similarity = models.FloatField()

    class Meta:
        ordering = ["search", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["search", "rank"], name="candidate_unique_rank")
        ]

"""API shapes for cases, galleries, faces and searches."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from search.models import (
    DEFAULT_TARGET_FMR,
    MAX_FACE_INDEX,
    MAX_TARGET_FMR,
    MIN_TARGET_FMR,
    Candidate,
    Case,
    EnrollmentBatch,
    ErasureOrder,
    Gallery,
    OffenceCategory,
    RetentionPolicy,
    Review,
    ReviewDecision,
    Search,
    SearchPolicy,
    Subject,
)

# No percent sign: DRF %-formats the min/max messages.
TARGET_FMR_RANGE = (f"Give the target false-match rate as a fraction from {MIN_TARGET_FMR} "
                    f"({MIN_TARGET_FMR * 100:g} percent) to {MAX_TARGET_FMR} "
                    f"({MAX_TARGET_FMR * 100:g} percent), for example 0.01 for 1 percent.")
NO_CANDIDATE = "No candidate above the line"
WEAK_NOTICE = ("Weak candidates: below your agency's line, each more likely a person who is not "
               "enrolled than your policy accepts. Investigative leads at best; they can be ruled "
               "out (not a match) but not marked a possible lead.")
LEAD_NOTICE = ("Candidates are investigative leads only, never an identification. A possible "
               "match must be confirmed by independent investigation.")


class CaseSerializer(serializers.ModelSerializer[Case]):
    opened_by = serializers.CharField(source="opened_by.username", read_only=True)

    class Meta:
        model = Case
        fields = ["id", "case_number", "offence_category", "justification",
                  "authorization_reference", "status", "expires_at", "opened_by", "created_at"]
        read_only_fields = ["status", "expires_at", "opened_by", "created_at"]


class CaseCreateSerializer(serializers.Serializer[Any]):
    case_number = serializers.CharField(max_length=60)
    offence_category = serializers.ChoiceField(choices=OffenceCategory.choices)
    justification = serializers.CharField(max_length=2000,
                                          help_text="Why a face search is needed in this case")
    authorization_reference = serializers.CharField(max_length=120, required=False,
                                                    allow_blank=True, default="")


class CaseDecisionSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class CaseAssignSerializer(serializers.Serializer[Any]):
    user = serializers.CharField(max_length=150,  # a username's longest
                                 help_text="Username or id of an officer of your agency")


class GallerySerializer(serializers.ModelSerializer[Gallery]):
    face_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Gallery
        fields = ["id", "name", "source", "legal_basis", "face_count", "created_at"]
        read_only_fields = ["face_count", "created_at"]


class FaceEnrollSerializer(serializers.Serializer[Any]):
    image = serializers.FileField()
    subject_reference = serializers.CharField(max_length=100)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                         default="")
    provenance = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                       default="")


class _RefSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()


class SubjectRefSerializer(_RefSerializer):
    reference = serializers.CharField()
    display_name = serializers.CharField()


class FaceOutSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    subject = SubjectRefSerializer()
    gallery = _RefSerializer()
    model_name = serializers.CharField()
    detector = serializers.CharField()
    quality = serializers.FloatField()
    box = serializers.DictField(child=serializers.IntegerField())


class SearchCreateSerializer(serializers.Serializer[Any]):
    case = serializers.IntegerField()
    probe = serializers.FileField()
    face_index = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_FACE_INDEX,
        help_text="Which face of the photo to search, largest first (0, the default, is the "
                  "largest). An index beyond the faces found fails the search with "
                  "`face_index_out_of_range`; the search's `faces` then lists those found.")


class AnotherFaceSerializer(serializers.Serializer[Any]):
    face_index = serializers.IntegerField(min_value=0, max_value=MAX_FACE_INDEX,
                                          help_text="A face of the search's `faces`")


class FaceLinkSerializer(_RefSerializer):
    image_url = serializers.CharField(help_text="The face as this search's candidate; audited")


class ReviewSerializer(serializers.ModelSerializer[Review]):
    reviewer = serializers.CharField(source="reviewer.username")

    class Meta:
        model = Review
        fields = ["reviewer", "decision", "note", "created_at"]


class CandidateSerializer(serializers.ModelSerializer[Candidate]):
    subject = serializers.SerializerMethodField()
    face = serializers.SerializerMethodField()
    gallery = _RefSerializer(allow_null=True)
    reviews = ReviewSerializer(many=True, read_only=True)

    class Meta:
        model = Candidate
        fields = ["rank", "similarity", "score", "band", "false_match_estimate", "false_match_text",
                  "status", "redacted", "subject", "face", "gallery", "reviews"]

    false_match_text = serializers.CharField(
        read_only=True, help_text="The estimate in words: the chance that a person who is not "
        "enrolled scores this high in a gallery of this size")

    @extend_schema_field(SubjectRefSerializer(allow_null=True))
    def get_subject(self, candidate: Candidate) -> dict[str, Any] | None:
        subject = candidate.shown_subject
        return SubjectRefSerializer(subject).data if subject else None

    @extend_schema_field(FaceLinkSerializer(allow_null=True))
    def get_face(self, candidate: Candidate) -> dict[str, Any] | None:
        # The image is reached through the search, so that its check and audit know the case.
        if candidate.withdrawn:
            return None
        return {"id": candidate.face_id,
                "image_url": reverse("candidate-image", args=[candidate.search_id, candidate.rank])}


class ReviewCreateSerializer(serializers.Serializer[Any]):
    decision = serializers.ChoiceField(choices=ReviewDecision.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PolicySerializer(serializers.ModelSerializer[SearchPolicy]):
    allowed_offences = serializers.ListField(
        child=serializers.ChoiceField(choices=OffenceCategory.choices), allow_empty=True)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                           help_text="Null while the defaults are in force")
    target_false_match_rate = serializers.FloatField(
        min_value=MIN_TARGET_FMR, max_value=MAX_TARGET_FMR, required=False,
        help_text=f"A fraction from {MIN_TARGET_FMR} ({MIN_TARGET_FMR:.2%}) to {MAX_TARGET_FMR} "
                  f"({MAX_TARGET_FMR:.0%}); default {DEFAULT_TARGET_FMR} (1%)",
        error_messages={"min_value": TARGET_FMR_RANGE, "max_value": TARGET_FMR_RANGE,
                        "invalid": TARGET_FMR_RANGE})

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The old field would otherwise be ignored in silence: a script would think it saved.
        if "similarity_threshold" in getattr(self, "initial_data", {}):
            raise serializers.ValidationError({"similarity_threshold": [
                "The similarity threshold is gone: set target_false_match_rate instead. "
                + TARGET_FMR_RANGE]})
        return attrs

    class Meta:
        model = SearchPolicy
        fields = ["allowed_offences", "max_candidates", "target_false_match_rate",
                  "authorization_days", "updated_at"]
        read_only_fields = ["updated_at"]


class FaceBoxSerializer(serializers.Serializer[Any]):
    x = serializers.IntegerField()
    y = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class SearchSerializer(serializers.ModelSerializer[Search]):
    candidates = serializers.SerializerMethodField()
    notice = serializers.SerializerMethodField()
    faces = FaceBoxSerializer(many=True, read_only=True,
                              help_text="Every face found in the probe, largest first (pixels)")
    elapsed_seconds = serializers.FloatField(
        read_only=True, help_text="Since the search was requested; until it finished, if it has")
    score_kind = serializers.CharField(
        read_only=True, help_text="The score `threshold` is on and the candidates are ordered by: "
        "cosine_similarity (a gallery smaller than the normalized table was validated for) or "
        "adaptive_s_norm_k50 (normalized score); blank for searches run before there were two")

    class Meta:
        model = Search
        fields = ["id", "case", "status", "stage", "elapsed_seconds", "error_code", "error",
                  "faces_found", "faces", "face_index", "threshold", "target_false_match_rate",
                  "gallery_size", "score_kind", "policy", "model_name", "timings", "created_at",
                  "finished_at", "notice", "outcome", "weak_candidates", "candidates"]

    outcome = serializers.SerializerMethodField()
    weak_candidates = serializers.SerializerMethodField()

    def get_candidates(self, search: Search) -> list[dict[str, Any]]:
        from search.selectors import candidates_of

        return CandidateSerializer(candidates_of(search=search), many=True).data  # type: ignore[return-value]

    def get_outcome(self, search: Search) -> str:
        """'No candidate above the line' when nothing passed, said plainly."""
        from search.selectors import candidates_of

        if search.status != "done":
            return ""
        return "" if candidates_of(search=search) else NO_CANDIDATE

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_weak_candidates(self, search: Search) -> str | None:
        """Where the weak candidates are, if any: opening them is deliberate and audited."""
        from search.selectors import weak_candidates_of

        if not weak_candidates_of(search=search).exists():
            return None
        return reverse("api:search-weak-candidates", args=[search.pk])

    def get_notice(self, search: Search) -> str:
        return LEAD_NOTICE


class SearchSummarySerializer(serializers.ModelSerializer[Search]):
    """A search in a list: what happened, never what it found (opening one is audited)."""

    case_number = serializers.CharField(source="case.case_number", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True)
    candidate_count = serializers.IntegerField(read_only=True)  # as the searches page shows

    class Meta:
        model = Search
        fields = ["id", "case", "case_number", "requested_by", "status", "error_code",
                  "faces_found", "candidate_count", "created_at", "finished_at"]


class SearchQueuedSerializer(serializers.ModelSerializer[Search]):
    class Meta:
        model = Search
        fields = ["id", "status", "stage", "face_index"]


class SubjectSerializer(serializers.ModelSerializer[Subject]):
    class Meta:
        model = Subject
        fields = ["id", "reference", "display_name", "gallery", "created_at"]


class ErasureSerializer(serializers.Serializer[Any]):
    order_reference = serializers.CharField(max_length=120)
    order_type = serializers.ChoiceField(choices=["expungement", "acquittal", "deletion"],
                                         default="deletion")


class ErasureOutSerializer(serializers.ModelSerializer[ErasureOrder]):
    class Meta:
        model = ErasureOrder
        fields = ["id", "order_reference", "order_type", "subject_reference", "faces_removed",
                  "candidates_redacted", "created_at"]


class RetentionSerializer(serializers.ModelSerializer[RetentionPolicy]):
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                           help_text="Null while the defaults are in force")

    class Meta:
        model = RetentionPolicy
        fields = ["probe_days_after_close", "probe_max_days", "unconfirmed_candidate_days",
                  "updated_at"]
        read_only_fields = ["updated_at"]


class BatchCreateSerializer(serializers.Serializer[Any]):
    archive = serializers.FileField(help_text="ZIP of photos with manifest.csv (file, "
                                              "subject_reference, display_name, source, date)")


class BatchSerializer(serializers.ModelSerializer[EnrollmentBatch]):
    counts = serializers.SerializerMethodField()

    class Meta:
        model = EnrollmentBatch
        fields = ["id", "status", "total", "counts", "created_at", "finished_at"]

    def get_counts(self, batch: EnrollmentBatch) -> dict[str, int]:
        from search.selectors import batch_counts

        return batch_counts(batch)


class WeakCandidatesSerializer(serializers.Serializer[Any]):
    search = serializers.IntegerField()
    notice = serializers.SerializerMethodField()
    candidates = CandidateSerializer(many=True)

    def get_notice(self, data: Any) -> str:
        return WEAK_NOTICE

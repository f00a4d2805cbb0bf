"""REST endpoints for cases, galleries, enrollment and searches. Thin: parse, call, serialize."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from agencies.accounts.selectors import agency_member_get
from agencies.audit.models import AuditAction
from agencies.tenancy.apis import TenantViewSet
from agencies.tenancy.models import INVESTIGATORS, Role
from portal.listing import ListFilters
from portal.throttling import ScopedRateThrottle
from search import selectors
from search.filters import CaseFilter, GalleryFilter, SearchFilter
from search.models import (
    Case,
    EnrollmentBatch,
    Gallery,
    Search,
    Subject,
)
from search.reports import disclosure_response
from search.serializers import (
    AnotherFaceSerializer,
    BatchCreateSerializer,
    BatchSerializer,
    CandidateSerializer,
    CaseAssignSerializer,
    CaseCreateSerializer,
    CaseDecisionSerializer,
    CaseSerializer,
    ErasureOutSerializer,
    ErasureSerializer,
    FaceEnrollSerializer,
    FaceOutSerializer,
    GallerySerializer,
    PolicySerializer,
    RetentionSerializer,
    ReviewCreateSerializer,
    SearchCreateSerializer,
    SearchQueuedSerializer,
    SearchSerializer,
    SearchSummarySerializer,
    SubjectSerializer,
    WeakCandidatesSerializer,
)
from search.services import access, cases, enrollment, privacy, reviews, searching
from search.services.batches import batch_create
from search.services.policy import policy_update
from search.services.retention import retention_update
from search.uploads import read_upload


class CaseViewSet(ListFilters, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                  TenantViewSet[Case]):
    serializer_class = CaseSerializer
    # the filter and sort of the cases page
    filterset_class = CaseFilter

    def tenant_queryset(self) -> QuerySet[Case]:
        return selectors.case_list(agency=self.agency)

    action_roles = {"create": INVESTIGATORS, "another_face": INVESTIGATORS}

    @extend_schema(request=CaseCreateSerializer, responses={201: CaseSerializer})
    def create(self, request: Request) -> Response:
        params = CaseCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        case = cases.case_open(agency=self.agency, actor=request.user, **params.validated_data)
        return Response(CaseSerializer(case).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CaseDecisionSerializer, responses={200: CaseSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        case = self.get_object()  # a foreign id answers 404 before anything else is said
        params = CaseDecisionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        case = cases.case_approve(case=case, actor=request.user,
                                  reason=params.validated_data["reason"])
        return Response(CaseSerializer(case).data)

    @extend_schema(request=CaseDecisionSerializer, responses={200: CaseSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        params = CaseDecisionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        case = cases.case_reject(case=case, actor=request.user,
                                 reason=params.validated_data["reason"])
        return Response(CaseSerializer(case).data)

    @extend_schema(request=None, responses={200: CaseSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str) -> Response:
        case = cases.case_close(case=self.get_object(), actor=request.user)
        return Response(CaseSerializer(case).data)

    @extend_schema(request=CaseAssignSerializer, responses={200: CaseSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        case = self.get_object()
        params = CaseAssignSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        user = agency_member_get(agency=self.agency, key=params.validated_data["user"])
        case = cases.case_assign(case=case, actor=request.user, user=user)
        return Response(CaseSerializer(case).data)


class GalleryViewSet(ListFilters, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     mixins.CreateModelMixin, TenantViewSet[Gallery]):
    serializer_class = GallerySerializer
    # the filter and sort of the galleries page
    filterset_class = GalleryFilter

    action_roles = {"create": (Role.AGENCY_ADMIN,), "faces": (Role.AGENCY_ADMIN,),
                    "batches": (Role.AGENCY_ADMIN,)}

    def tenant_queryset(self) -> QuerySet[Gallery]:
        return selectors.gallery_list_with_counts(agency=self.agency)  # as the galleries page

    def perform_create(self, serializer: Any) -> None:
        gallery = enrollment.gallery_create(agency=self.agency, actor=self.request.user,
                                            **serializer.validated_data)
        gallery.face_count = 0  # type: ignore[attr-defined]  # a new gallery is empty
        serializer.instance = gallery

    @extend_schema(request=BatchCreateSerializer, responses={202: BatchSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def batches(self, request: Request, pk: str) -> Response:
        gallery = self.get_object()
        params = BatchCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        batch = batch_create(gallery=gallery, actor=request.user,
                             data=params.validated_data["archive"].read())
        return Response(BatchSerializer(batch).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=FaceEnrollSerializer, responses={201: FaceOutSerializer})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def faces(self, request: Request, pk: str) -> Response:
        gallery = self.get_object()
        params = FaceEnrollSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        face = enrollment.face_enroll(
            gallery=gallery, subject_reference=data["subject_reference"],
            image=read_upload(data["image"]), actor=request.user,
            display_name=data["display_name"], provenance=data["provenance"])
        return Response(FaceOutSerializer(face).data, status=status.HTTP_201_CREATED)


class BatchViewSet(mixins.RetrieveModelMixin, TenantViewSet[EnrollmentBatch]):
    """Progress of a bulk enrollment."""

    queryset = EnrollmentBatch.objects.all()  # TenantViewSet scopes it to the acting agency
    serializer_class = BatchSerializer
    action_roles = {"retrieve": (Role.AGENCY_ADMIN,)}


class SearchViewSet(ListFilters, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                    TenantViewSet[Search]):
    serializer_class = SearchSerializer
    # the filter and sort of the searches page
    filterset_class = SearchFilter

    def get_throttles(self) -> list[Any]:
        if self.action in ("create", "another_face"):
            self.throttle_scope = "search"
            return [ScopedRateThrottle()]
        return super().get_throttles()
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def tenant_queryset(self) -> QuerySet[Search]:
        if self.action == "list":  # only the cases this user may see; single ones answer 403
            return selectors.searches_listed(user=self.request.user, agency=self.agency)
        return selectors.search_list(agency=self.agency)

    def get_serializer_class(self) -> Any:
        return SearchSummarySerializer if self.action == "list" else SearchSerializer

    action_roles = {"create": INVESTIGATORS, "another_face": INVESTIGATORS}

    @extend_schema(request=SearchCreateSerializer, responses={202: SearchQueuedSerializer})
    def create(self, request: Request) -> Response:
        params = SearchCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        case = selectors.case_get(agency=self.agency, pk=params.validated_data["case"])
        search = searching.search_create(case=case, user=request.user,
                                         probe=read_upload(params.validated_data["probe"]),
                                         face_index=params.validated_data.get("face_index"))
        return Response(SearchQueuedSerializer(search).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=AnotherFaceSerializer, responses={202: SearchQueuedSerializer})
    @action(detail=True, methods=["post"], url_path="another-face",
            parser_classes=[JSONParser, FormParser, MultiPartParser])
    def another_face(self, request: Request, pk: str) -> Response:
        """Search another face of this search's probe: a new search in the same case."""
        # Another agency's search answers 404 whatever the body: look it up before reading that.
        origin = access.search_for_results(agency=self.agency, user=request.user, pk=pk)
        params = AnotherFaceSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        search = searching.search_another_face(search=origin, user=request.user,
                                               face_index=params.validated_data["face_index"])
        return Response(SearchQueuedSerializer(search).data, status=status.HTTP_202_ACCEPTED)

    def retrieve(self, request: Request, pk: str) -> Response:
        search = access.search_results_open(agency=self.agency, user=request.user, pk=pk)
        return Response(SearchSerializer(search).data)

    @extend_schema(request=None, responses={200: WeakCandidatesSerializer})
    @action(detail=True, methods=["post"], url_path="weak-candidates")
    def weak_candidates(self, request: Request, pk: str) -> Response:
        """The best few below the line of a search where none passed: asked for, and audited."""
        search, weak = access.search_weak_candidates_open(agency=self.agency, user=request.user,
                                                          pk=pk)
        return Response(WeakCandidatesSerializer({"search": search.pk, "candidates": weak}).data)

    @extend_schema(request=ReviewCreateSerializer, responses={200: CandidateSerializer})
    @action(detail=True, methods=["post"], url_path=r"candidates/(?P<rank>[0-9]+)/review",
            parser_classes=[JSONParser, FormParser, MultiPartParser])
    def review(self, request: Request, pk: str, rank: str) -> Response:
        candidate = selectors.candidate_get(search=self.get_object(), rank=rank)
        params = ReviewCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        reviewed = reviews.candidate_review(candidate=candidate, reviewer=request.user,
                                            **params.validated_data)
        return Response(CandidateSerializer(selectors.candidate_get(search=reviewed.search,
                                                                    rank=reviewed.rank)).data)


class SubjectViewSet(mixins.RetrieveModelMixin, TenantViewSet[Subject]):
    serializer_class = SubjectSerializer
    action_roles = {"erasure": (Role.AGENCY_ADMIN,)}

    def tenant_queryset(self) -> QuerySet[Subject]:
        return selectors.subjects_of(agency=self.agency)

    def retrieve(self, request: Request, pk: str) -> Response:
        subject = self.get_object()  # another agency's subject answers 404 before the role check
        access.ensure_may_browse_enrolled_faces(request.user)
        return Response(self.get_serializer(subject).data)

    @extend_schema(request=ErasureSerializer, responses={201: ErasureOutSerializer})
    @action(detail=True, methods=["post"])
    def erasure(self, request: Request, pk: str) -> Response:
        subject = self.get_object()
        params = ErasureSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        order = privacy.subject_erase(subject=subject, actor=request.user, **params.validated_data)
        return Response(ErasureOutSerializer(order).data, status=status.HTTP_201_CREATED)


class AgencySettingView(TenantViewSet[Any]):
    """An agency-wide setting: every member reads it, the agency admin changes it (the service
    checks the role and audits the change)."""

    read: Callable[[Any], Any]
    write: Callable[..., Any]

    def retrieve(self, request: Request) -> Response:
        return Response(self.get_serializer(type(self).read(self.agency)).data)

    def partial_update(self, request: Request) -> Response:
        params = self.get_serializer(data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        saved = type(self).write(agency=self.agency, actor=request.user, **params.validated_data)
        return Response(self.get_serializer(saved).data)


class RetentionView(AgencySettingView):
    serializer_class = RetentionSerializer
    read = staticmethod(selectors.retention_of)
    write = staticmethod(retention_update)


class PolicyView(AgencySettingView):
    serializer_class = PolicySerializer
    read = staticmethod(selectors.policy_of)
    write = staticmethod(policy_update)


class SearchDisclosureView(TenantViewSet[Search]):
    """The disclosure report of one search, as PDF."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def retrieve(self, request: Request, pk: str) -> HttpResponse:
        search = access.search_for_results(agency=self.agency, user=request.user, pk=pk,
                                           action=AuditAction.EXPORT)
        return disclosure_response(search, request.user)


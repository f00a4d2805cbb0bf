"""The platform operator's API: agencies, plans, licenses and opt-out requests."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from agencies.billing.licensing import (
    agency_register,
    license_change,
    license_grant,
    plan_change,
    plan_create,
    plan_delete,
)
from agencies.billing.models import License, Plan
from agencies.tenancy.apis import IsPlatformAdmin
from agencies.tenancy.models import Agency
from search import selectors
from search.models import OptOutConsultation, OptOutRequest
from search.public_apis import OptOutCreateSerializer, OptOutPublicSerializer, opt_out_submit
from search.serializers import CaseDecisionSerializer
from search.services.privacy import (
    optout_approve,
    optout_consult,
    optout_reject,
    optout_restore,
)


class ConsultationCountSerializer(serializers.ModelSerializer[OptOutConsultation]):
    """What the operator sees of an agency's matches: how many, never which faces."""

    agency_name = serializers.CharField(source="agency.name", read_only=True)
    faces = serializers.SerializerMethodField()

    class Meta:
        model = OptOutConsultation
        fields = ["agency", "agency_name", "faces", "answer", "reason", "deadline", "answered_at"]

    def get_faces(self, consultation: OptOutConsultation) -> int:
        return len(consultation.face_ids)


class OptOutSerializer(serializers.ModelSerializer[OptOutRequest]):
    consultations = ConsultationCountSerializer(many=True, read_only=True)

    class Meta:
        model = OptOutRequest
        fields = ["id", "status", "email", "residence", "faces_removed", "decision_reason",
                  "created_at", "confirmed_at", "objection_deadline", "decided_at",
                  "consultations"]


class PlatformOptOutViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            viewsets.GenericViewSet[OptOutRequest]):
    """The operator's queue of opt-out requests."""

    permission_classes = [permissions.IsAuthenticated, IsPlatformAdmin]
    serializer_class = OptOutSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self) -> QuerySet[OptOutRequest]:
        return selectors.operator_opt_outs()

    @extend_schema(request=OptOutCreateSerializer, responses={201: OptOutPublicSerializer})
    def create(self, request: Request) -> Response:
        """Record a request received by post or in person."""
        return opt_out_submit(request)

    @extend_schema(request=None, responses={200: OptOutSerializer})
    @action(detail=True, methods=["post"])
    def consult(self, request: Request, pk: str) -> Response:
        """Count the matches per agency and ask each agency holding them to confirm or object."""
        decided = optout_consult(request=self.get_object(), actor=request.user)
        return Response(OptOutSerializer(decided).data)

    @extend_schema(request=CaseDecisionSerializer, responses={200: OptOutSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str) -> Response:
        """Bring back the faces a removal took, within the grace period."""
        decided = optout_restore(request=self.get_object(), actor=request.user,
                                 reason=str(request.data.get("reason", "")))
        return Response(OptOutSerializer(decided).data)

    @extend_schema(request=CaseDecisionSerializer, responses={200: OptOutSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        decided = optout_approve(request=self.get_object(), actor=request.user,
                                 reason=str(request.data.get("reason", "")))
        return Response(OptOutSerializer(decided).data)

    @extend_schema(request=CaseDecisionSerializer, responses={200: OptOutSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        decided = optout_reject(request=self.get_object(), actor=request.user,
                                reason=str(request.data.get("reason", "")))
        return Response(OptOutSerializer(decided).data)


OPERATOR = [permissions.IsAuthenticated, IsPlatformAdmin]


class AgencySerializer(serializers.ModelSerializer[Agency]):
    class Meta:
        model = Agency
        fields = ["id", "name", "slug", "kind", "country", "region", "created_at"]
        # The eligibility check needs both (a missing one was a TypeError, a 500).
        extra_kwargs = {"kind": {"required": True}, "country": {"required": True}}


class PlanSerializer(serializers.ModelSerializer[Plan]):
    class Meta:
        model = Plan
        fields = ["id", "name", "seats", "monthly_search_quota", "overage_policy", "overage_price",
                  "annual_fee_per_seat", "storage_price_per_1000_faces", "currency", "validity_days"]


class LicenseSerializer(serializers.ModelSerializer[License]):
    class Meta:
        model = License
        fields = ["id", "agency", "plan", "starts_on", "ends_on", "status", "suspension_reason"]


class PlatformAgencyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            viewsets.GenericViewSet[Agency]):
    permission_classes = OPERATOR
    serializer_class = AgencySerializer
    queryset = Agency.objects.all()

    def create(self, request: Request) -> Response:
        params = AgencySerializer(data=request.data)
        params.is_valid(raise_exception=True)
        agency = agency_register(actor=request.user, **params.validated_data)
        return Response(AgencySerializer(agency).data, status=status.HTTP_201_CREATED)


class PlatformPlanViewSet(viewsets.ModelViewSet[Plan]):
    """Plans, written only through the audited services (each change on the platform chain)."""

    permission_classes = OPERATOR
    serializer_class = PlanSerializer
    queryset = Plan.objects.all()

    def perform_create(self, serializer: serializers.BaseSerializer[Plan]) -> None:
        serializer.instance = plan_create(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer[Plan]) -> None:
        serializer.instance = plan_change(actor=self.request.user, plan=self.get_object(),
                                          **serializer.validated_data)

    def perform_destroy(self, instance: Plan) -> None:
        plan_delete(actor=self.request.user, plan=instance)


class PlatformLicenseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                             viewsets.GenericViewSet[License]):
    permission_classes = OPERATOR
    serializer_class = LicenseSerializer
    queryset = License.objects.select_related("agency", "plan")

    def create(self, request: Request) -> Response:
        params = LicenseSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        granted = license_grant(actor=request.user, agency=data["agency"], plan=data["plan"],
                                starts_on=data["starts_on"], ends_on=data.get("ends_on"))
        if data.get("status"):
            granted = license_change(actor=request.user, license=granted, status=data["status"])
        return Response(LicenseSerializer(granted).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        params = LicenseSerializer(self.get_object(), data=request.data, partial=True)
        params.is_valid(raise_exception=True)
        changed = license_change(actor=request.user, license=self.get_object(),
                                 **params.validated_data)
        return Response(LicenseSerializer(changed).data)

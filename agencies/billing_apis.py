"""The operator's API (agencies, plans, licenses) and the agency admin's (usage, invoices)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from agencies.apis import IsPlatformAdmin, TenantViewSet, role_required
from agencies.invoice_files import invoice_csv, invoice_pdf
from agencies.licensing import (
    agency_register,
    license_change,
    license_grant,
    plan_change,
    plan_create,
    plan_delete,
)
from agencies.models import Agency, Invoice, InvoiceLine, License, Plan, Role
from agencies.selectors import agency_usage, invoices_of
from portal.http import attachment

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


class InvoiceLineSerializer(serializers.ModelSerializer[InvoiceLine]):
    class Meta:
        model = InvoiceLine
        fields = ["description", "quantity", "unit_price", "amount"]


class InvoiceSerializer(serializers.ModelSerializer[Invoice]):
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = ["id", "number", "period", "currency", "total", "issued_at", "lines"]


AGENCY_ADMIN_ONLY = role_required(Role.AGENCY_ADMIN)


class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet[Invoice]):
    serializer_class = InvoiceSerializer
    permission_classes = [*TenantViewSet.permission_classes, AGENCY_ADMIN_ONLY]

    def get_queryset(self) -> QuerySet[Invoice]:
        return invoices_of(agency=self.agency)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def pdf(self, request: Request, pk: str) -> HttpResponse:
        invoice = self.get_object()
        return attachment(invoice_pdf(invoice), content_type="application/pdf",
                          filename=f"{invoice.number}.pdf")

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"])
    def csv(self, request: Request, pk: str) -> HttpResponse:
        invoice = self.get_object()
        return attachment(invoice_csv(invoice), content_type="text/csv",
                          filename=f"{invoice.number}.csv")


class UsageView(TenantViewSet[Any]):
    """This month's usage against the license, per day and per officer, with warnings."""

    permission_classes = [*TenantViewSet.permission_classes, AGENCY_ADMIN_ONLY]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request: Request) -> Response:
        return Response(agency_usage(agency=self.agency))

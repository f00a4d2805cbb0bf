"""The agency admin's billing API: usage and invoices (the operator's is in portal.platform.apis)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from agencies.billing.invoice_files import invoice_csv, invoice_pdf
from agencies.billing.models import Invoice, InvoiceLine
from agencies.billing.selectors import agency_usage, invoices_of
from agencies.tenancy.apis import TenantViewSet, role_required
from agencies.tenancy.models import Role
from portal.http import attachment


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

    def tenant_queryset(self) -> QuerySet[Invoice]:
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

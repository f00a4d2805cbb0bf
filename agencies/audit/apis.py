"""GET /api/v1/audit/: the agency's audit trail, for its auditors and admin."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import mixins

from agencies.audit.filters import AuditEventFilter
from agencies.audit.models import AuditEvent
from agencies.audit.selectors import audit_events
from agencies.audit.serializers import AuditEventSerializer
from agencies.tenancy.apis import TenantViewSet, role_required
from agencies.tenancy.models import AUDIT_READERS, Role
from agencies.tenancy.selectors import has_role


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        TenantViewSet[AuditEvent]):
    serializer_class = AuditEventSerializer
    permission_classes = [*TenantViewSet.permission_classes, role_required(*AUDIT_READERS)]
    filter_backends = [DjangoFilterBackend]
    filterset_class = AuditEventFilter

    def tenant_queryset(self) -> QuerySet[AuditEvent]:
        return audit_events(agency=self.agency)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(),
                "full_details": has_role(self.request.user, Role.AUDITOR)}


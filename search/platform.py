"""The platform operator's work on opt-out requests: pages and API."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from agencies.apis import IsPlatformAdmin
from agencies.decorators import platform_admin_required
from portal.config import setting
from portal.errors import ServiceError
from portal.throttling import ScopedRateThrottle
from search.models import OptOutConsultation, OptOutRequest, OptOutStatus
from search.public_views import confirmation_link
from search.serializers import CaseDecisionSerializer
from search.services.privacy import (
    optout_approve,
    optout_consult,
    optout_photo_open,
    optout_reject,
    optout_restore,
    optout_submit,
)
from search.uploads import read_upload


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


class OptOutCreateSerializer(serializers.Serializer[Any]):
    photo = serializers.FileField()
    email = serializers.EmailField()
    residence = serializers.CharField(max_length=200)


class OptOutPublicSerializer(serializers.ModelSerializer[OptOutRequest]):
    class Meta:
        model = OptOutRequest
        fields = ["id", "status"]


def _submit(request: Request) -> Response:
    params = OptOutCreateSerializer(data=request.data)
    params.is_valid(raise_exception=True)
    created = optout_submit(photo=read_upload(params.validated_data["photo"]),
                            email=params.validated_data["email"],
                            residence=params.validated_data["residence"],
                            link_for=confirmation_link(request._request))
    return Response(OptOutPublicSerializer(created).data, status=status.HTTP_201_CREATED)


class PublicOptOutViewSet(viewsets.GenericViewSet[OptOutRequest]):
    """POST /api/v1/public/opt-out/: anyone, no account; the answer is only an id and a status."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    parser_classes = [MultiPartParser, FormParser]
    serializer_class = OptOutCreateSerializer  # OPTIONS describes the form (it asserted without one)
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "public"

    @extend_schema(request=OptOutCreateSerializer, responses={201: OptOutPublicSerializer})
    def create(self, request: Request) -> Response:
        return _submit(request)


class PlatformOptOutViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            viewsets.GenericViewSet[OptOutRequest]):
    """The operator's queue of opt-out requests."""

    permission_classes = [permissions.IsAuthenticated, IsPlatformAdmin]
    serializer_class = OptOutSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_queryset(self) -> QuerySet[OptOutRequest]:
        # Not tenant data: requests come from the public; unconfirmed ones are not for review.
        return (OptOutRequest.objects.exclude(status=OptOutStatus.UNCONFIRMED)
                .prefetch_related("consultations__agency"))

    @extend_schema(request=OptOutCreateSerializer, responses={201: OptOutPublicSerializer})
    def create(self, request: Request) -> Response:
        """Record a request received by post or in person."""
        return _submit(request)

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


@platform_admin_required
def opt_out_queue(request: HttpRequest) -> HttpResponse:
    requests = OptOutRequest.objects.prefetch_related("consultations__agency")
    return render(request, "platform/opt_outs.html", {
        "pending": requests.filter(status=OptOutStatus.PENDING),
        "consulting": requests.filter(status=OptOutStatus.CONSULTING),
        "unconfirmed": requests.filter(status=OptOutStatus.UNCONFIRMED).count(),
        "decided": requests.filter(status__in=DECIDED)[:50],
        "strict": setting("OPT_OUT_SIMILARITY"), "grace_days": setting("OPT_OUT_GRACE_DAYS"),
        "objection_days": setting("OPT_OUT_OBJECTION_DAYS")})


DECIDED = (OptOutStatus.APPROVED, OptOutStatus.REJECTED, OptOutStatus.RESTORED)


def _decide(decision: str, opt_out: OptOutRequest, actor: Any, reason: str) -> str:
    if decision == "consult":
        consulted = optout_consult(request=opt_out, actor=actor)
        return (f"Request {opt_out.pk}: {consulted.consultations.count()} agency(ies) asked; they "
                f"may object until {consulted.objection_deadline:%Y-%m-%d %H:%M} UTC.")
    if decision == "approve":
        decided = optout_approve(request=opt_out, actor=actor, reason=reason)
        return (f"Request {opt_out.pk} approved: {decided.faces_removed} face(s) removed, "
                f"restorable for {setting('OPT_OUT_GRACE_DAYS')} days; the face is suppressed.")
    if decision == "restore":
        optout_restore(request=opt_out, actor=actor, reason=reason)
        return f"Request {opt_out.pk}: the removed faces are restored and the suppression lifted."
    optout_reject(request=opt_out, actor=actor, reason=reason)
    return f"Request {opt_out.pk} rejected."


@require_POST
@platform_admin_required
def opt_out_decide(request: HttpRequest, pk: int) -> HttpResponse:
    opt_out = get_object_or_404(OptOutRequest.objects.exclude(status=OptOutStatus.UNCONFIRMED),
                                pk=pk)
    try:
        messages.success(request, _decide(request.POST.get("decision", ""), opt_out, request.user,
                                          request.POST.get("reason", "")))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("platform-opt-outs")


@platform_admin_required
def opt_out_photo(request: HttpRequest, pk: int) -> FileResponse:
    try:
        photo = optout_photo_open(actor=request.user, pk=pk)
    except ServiceError as exc:
        raise Http404(exc.message) from None
    response = FileResponse(photo.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response

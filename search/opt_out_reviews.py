"""An agency admin's say on opt-out requests that matched the agency's faces: pages and API.

Only the owning agency sees its matching faces; the operator sees counts. Another agency's
consultation answers 404, like a missing one.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from agencies.tenancy.apis import TenantViewSet
from agencies.tenancy.decorators import member_required
from agencies.tenancy.models import Role
from agencies.tenancy.requests import MemberRequest
from portal.errors import ServiceError
from search import selectors
from search.models import OptOutConsultation
from search.services.privacy import optout_answer

ADMIN = (Role.AGENCY_ADMIN,)


class MatchedFaceSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    subject_reference = serializers.CharField(source="subject.reference")
    gallery = serializers.CharField(source="gallery.name")
    image_url = serializers.SerializerMethodField()

    def get_image_url(self, face: Any) -> str:
        return reverse("face-image", args=[face.pk])


class ConsultationSerializer(serializers.ModelSerializer[OptOutConsultation]):
    opt_out = serializers.IntegerField(source="request_id", read_only=True)
    faces = serializers.SerializerMethodField()

    class Meta:
        model = OptOutConsultation
        fields = ["id", "opt_out", "answer", "reason", "deadline", "answered_at", "created_at",
                  "faces"]

    @extend_schema(responses=MatchedFaceSerializer(many=True))  # type: ignore[misc]
    def get_faces(self, consultation: OptOutConsultation) -> list[dict[str, Any]]:
        faces = selectors.consultation_faces(consultation=consultation)
        return list(MatchedFaceSerializer(faces, many=True).data)


class AnswerSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class OptOutConsultationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                                TenantViewSet[OptOutConsultation]):
    """Opt-out requests that matched the agency's faces; the agency admin confirms or objects."""

    serializer_class = ConsultationSerializer
    action_roles = {"list": ADMIN, "retrieve": ADMIN, "confirm": ADMIN, "object": ADMIN}

    def tenant_queryset(self) -> QuerySet[OptOutConsultation]:
        return selectors.consultation_list(agency=self.agency)

    def _answer(self, request: Request, *, confirm: bool) -> Response:
        params = AnswerSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        answered = optout_answer(consultation=self.get_object(), actor=request.user, confirm=confirm,
                                 reason=params.validated_data.get("reason", ""))
        return Response(ConsultationSerializer(answered).data)

    @extend_schema(request=AnswerSerializer, responses={200: ConsultationSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, pk: str) -> Response:
        """Agree that the agency's matching faces are removed."""
        return self._answer(request, confirm=True)

    @extend_schema(request=AnswerSerializer, responses={200: ConsultationSerializer})
    @action(detail=True, methods=["post"])
    def object(self, request: Request, pk: str) -> Response:
        """Keep the agency's matching faces; the reason is required and audited."""
        return self._answer(request, confirm=False)


@member_required(Role.AGENCY_ADMIN)
def consultation_list(request: MemberRequest) -> HttpResponse:
    agency = request.agency
    return render(request, "search/opt_out_reviews.html",
                  {"consultations": selectors.consultation_list(agency=agency)})


@member_required(Role.AGENCY_ADMIN)
def consultation_detail(request: MemberRequest, pk: int) -> HttpResponse:
    agency = request.agency
    consultation = selectors.consultation_get(agency=agency, pk=pk)
    if request.method == "POST":
        try:
            answered = optout_answer(consultation=consultation, actor=request.user,
                                     confirm=request.POST.get("answer") == "confirm",
                                     reason=request.POST.get("reason", ""))
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Answer recorded: {answered.get_answer_display().lower()}.")
        return redirect("opt-out-review", pk=consultation.pk)
    return render(request, "search/opt_out_review.html", {
        "consultation": consultation,
        "faces": selectors.consultation_faces(consultation=consultation)})

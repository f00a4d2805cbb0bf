"""The public's opt-out API: anyone, no account; the operator records requests received by post
through the same form (portal.platform.apis)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from portal.throttling import ScopedRateThrottle
from search.models import OptOutRequest
from search.services.privacy import optout_submit
from search.uploads import read_upload


class OptOutCreateSerializer(serializers.Serializer[Any]):
    photo = serializers.FileField()
    email = serializers.EmailField()
    residence = serializers.CharField(max_length=200)


class OptOutPublicSerializer(serializers.ModelSerializer[OptOutRequest]):
    class Meta:
        model = OptOutRequest
        fields = ["id", "status"]


def opt_out_submit(request: Request) -> Response:
    params = OptOutCreateSerializer(data=request.data)
    params.is_valid(raise_exception=True)
    created = optout_submit(photo=read_upload(params.validated_data["photo"]),
                            email=params.validated_data["email"],
                            residence=params.validated_data["residence"])
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
        return opt_out_submit(request)

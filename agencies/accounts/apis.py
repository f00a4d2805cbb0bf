"""The agency admin's API for people: invitations (the link goes by e-mail to the invitee only)
and the second approval of supervisor and admin roles; and the invitee's account creation."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.accounts.approvals import (
    needs_second_approval,
    pending_role_requests,
    role_request_approve,
    role_request_refuse,
)
from agencies.accounts.models import Invitation, RoleRequest
from agencies.accounts.selectors import invitations_pending
from agencies.accounts.services import (
    invitation_accept,
    invitation_create,
    invitation_open,
    invitation_resend,
    invitation_revoke,
    masked_email,
)
from agencies.accounts.usernames import USERNAME_HELP, validate_username
from agencies.tenancy.apis import TenantViewSet
from agencies.tenancy.models import Role
from portal.throttling import ScopedRateThrottle


class InvitationRequestSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    """What the admin learns of a sent invitation: never the link or its token."""

    email = serializers.SerializerMethodField(help_text="The address, masked (j***@agency.gov)")

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "created_at", "expires_at"]

    def get_email(self, invitation: Invitation) -> str:
        return masked_email(invitation.email)


ADMIN = (Role.AGENCY_ADMIN,)


class InvitationViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, TenantViewSet[Invitation]):
    """Invitations of the agency: send one, list those pending, revoke or send one again."""

    serializer_class = InvitationSerializer
    action_roles = {"create": ADMIN, "list": ADMIN, "revoke": ADMIN, "resend": ADMIN}

    def tenant_queryset(self) -> QuerySet[Invitation]:
        return invitations_pending(agency=self.agency)

    @extend_schema(request=None, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        """The link stops working at once; audited."""
        revoked = invitation_revoke(admin=request.user, invitation_id=self.get_object().pk)
        return Response(InvitationSerializer(revoked).data)

    @extend_schema(request=None, responses={200: InvitationSerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str) -> Response:
        """Mail a new link valid 7 days; the earlier one stops working. Audited."""
        sent = invitation_resend(admin=request.user, invitation_id=self.get_object().pk)
        return Response(InvitationSerializer(sent).data)

    @extend_schema(request=InvitationRequestSerializer, responses={201: InvitationSerializer})
    def create(self, request: Request) -> Response:
        params = InvitationRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        invitation = invitation_create(admin=request.user, **params.validated_data)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class AcceptRequestSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(help_text="The token of the link in the invitation e-mail")
    username = serializers.CharField(max_length=150, validators=[validate_username],
                                     help_text=USERNAME_HELP)
    password = serializers.CharField(style={"input_type": "password"})


class AcceptResponseSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    awaiting_approval = serializers.BooleanField(
        help_text="A supervisor, admin or auditor account signs in only after a second approval")


class InvitationAcceptView(APIView):
    """POST the invitation's token, a username and a password: the invitee creates the account."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(request=AcceptRequestSerializer, responses={201: AcceptResponseSerializer})
    def post(self, request: Request) -> Response:
        params = AcceptRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        role = invitation_open(params.validated_data["token"]).role
        user = invitation_accept(**params.validated_data)
        return Response({"username": user.get_username(),
                         "awaiting_approval": needs_second_approval(role)},
                        status=status.HTTP_201_CREATED)


class RoleRequestSerializer(serializers.ModelSerializer[RoleRequest]):
    user = serializers.CharField(source="user.username")
    requested_by = serializers.CharField(source="requested_by.username")

    class Meta:
        model = RoleRequest
        fields = ["id", "user", "role", "new_account", "requested_by", "requested_at", "status"]


class RoleRequestViewSet(mixins.ListModelMixin, TenantViewSet[RoleRequest]):
    """Supervisor, admin and auditor roles waiting for a second admin (not the one who asked)."""

    serializer_class = RoleRequestSerializer
    action_roles = {"list": (Role.AGENCY_ADMIN,), "approve": (Role.AGENCY_ADMIN,),
                    "refuse": (Role.AGENCY_ADMIN,)}

    def tenant_queryset(self) -> QuerySet[RoleRequest]:
        return pending_role_requests(agency=self.agency)

    @extend_schema(request=None, responses={200: RoleRequestSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        decided = role_request_approve(approver=request.user, request_id=self.get_object().pk)
        return Response(RoleRequestSerializer(decided).data)

    @extend_schema(request=None, responses={200: RoleRequestSerializer})
    @action(detail=True, methods=["post"])
    def refuse(self, request: Request, pk: str) -> Response:
        decided = role_request_refuse(approver=request.user, request_id=self.get_object().pk)
        return Response(RoleRequestSerializer(decided).data)

"""Signing in: password, then the second factor (enrolled at first sign-in); API tokens likewise."""

from __future__ import annotations

from typing import Any

import django_otp
from axes.exceptions import AxesBackendPermissionDenied
from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django_ratelimit.decorators import ratelimit
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.accounts.mfa import (
    base32_secret,
    confirmed_device,
    mfa_check,
    mfa_confirm,
    mfa_enrolment_start,
    pending_device,
    qr_svg,
)
from agencies.accounts.selectors import account_refusal
from agencies.accounts.services import token_issue
from portal.errors import ServiceError
from portal.http import safe_next
from portal.throttling import ScopedRateThrottle


def login_rate(group: str, request: HttpRequest) -> str:
    return str(settings.LOGIN_RATE)


class CaseboundAuthenticationForm(AuthenticationForm):
    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        refusal = account_refusal(user)
        if refusal:
            raise forms.ValidationError(refusal, code="account_unusable")


@method_decorator(ratelimit(key="ip", rate=login_rate, method="POST", block=True), name="post")
class SignInView(LoginView):
    form_class = CaseboundAuthenticationForm

    def get_redirect_url(self) -> str:
        return safe_next(self.request)


class SignOutView(LogoutView):
    def get_redirect_url(self) -> str:
        return safe_next(self.request)


class CodeForm(forms.Form):
    token = forms.CharField(label="Code from your authenticator app", max_length=8,
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                          "inputmode": "numeric", "autofocus": True}))


def _finish(request: HttpRequest, device: Any) -> HttpResponse:
    django_otp.login(request, device)
    return redirect(safe_next(request) or settings.LOGIN_REDIRECT_URL)


@login_required
@ratelimit(key="user", rate=login_rate, method="POST", block=True)
def mfa_setup(request: HttpRequest) -> HttpResponse:
    """First sign-in: start the set-up (a POST: a GET creates nothing), scan the QR code, type a
    code to prove it works."""
    if confirmed_device(request.user):
        return redirect("mfa-verify")
    if request.method == "POST" and "start" in request.POST:
        mfa_enrolment_start(user=request.user)
        return redirect(request.get_full_path())  # this page again, its `next` kept
    device = pending_device(request.user)
    form = CodeForm(request.POST or None)
    if device is not None and request.method == "POST" and form.is_valid():
        confirmed = mfa_confirm(user=request.user, token=form.cleaned_data["token"], request=request)
        if confirmed:
            return _finish(request, confirmed)
        form.add_error("token", "That code is not right. Codes change every 30 seconds; try the "
                                "current one.")
    if device is None:
        return render(request, "registration/mfa_setup.html", {"started": False})
    return render(request, "registration/mfa_setup.html",
                  {"started": True, "form": form, "qr": qr_svg(device), "secret": base32_secret(device)})


@login_required
@ratelimit(key="user", rate=login_rate, method="POST", block=True)
def mfa_verify(request: HttpRequest) -> HttpResponse:
    """Every sign-in: the current code from the enrolled authenticator."""
    if confirmed_device(request.user) is None:
        return redirect("mfa-setup")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = mfa_check(user=request.user, token=form.cleaned_data["token"], request=request)
        if device:
            return _finish(request, device)
        if getattr(request, "axes_locked_out", False):
            logout(request)
            return render(request, "registration/locked.html", status=403)
        form.add_error("token", "That code is not right. Try the current one from your app.")
    return render(request, "registration/mfa_verify.html", {"form": form})


class TokenRequestSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})
    otp = serializers.CharField(help_text="The current code from the user's authenticator app")


class TokenResponseSerializer(serializers.Serializer[Any]):
    token = serializers.CharField()
    expires_in = serializers.IntegerField()


class TokenView(APIView):
    """POST username, password and otp; get a token that expires. Each call replaces the last."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenResponseSerializer})
    def post(self, request: Request) -> Response:
        params = TokenRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        user = _authenticate(request, params.validated_data["username"],
                             params.validated_data["password"])
        # A wrong code answers exactly like a wrong password, so that the answer never tells a
        # caller without the second factor that the password was right; both count to the lockout.
        if mfa_check(user=user, token=params.validated_data["otp"], request=request._request) is None:
            raise ServiceError("invalid_credentials", CREDENTIALS_REFUSED, status=401)
        refusal = account_refusal(user)  # told only to whoever has proved both factors
        if refusal:
            raise ServiceError("account_unusable", refusal, status=403)
        token = token_issue(user=user)
        return Response({"token": token.key, "expires_in": settings.API_TOKEN_TTL_SECONDS},
                        status=status.HTTP_200_OK)


CREDENTIALS_REFUSED = ("Wrong username, password or one-time code. A new account must first sign "
                       "in to the portal once to set up its authenticator app.")


def _authenticate(request: Request, username: str, password: str) -> Any:
    try:
        user = authenticate(request._request, username=username, password=password)
    except AxesBackendPermissionDenied:
        user = None
    if getattr(request._request, "axes_locked_out", False):
        raise ServiceError("account_locked", LOCKED_DETAIL, status=403)
    if user is None:
        raise ServiceError("invalid_credentials", CREDENTIALS_REFUSED, status=401)
    return user


LOCKED_DETAIL = ("This account is locked after too many failed sign-ins. Ask your agency admin to "
                 "unlock it.")


def lockout_response(request: HttpRequest, original_response: HttpResponse | None,
                     credentials: dict[str, Any] | None) -> HttpResponse:
    """django-axes' answer to a locked account: JSON for the API, a page for people."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "account_locked", "detail": LOCKED_DETAIL}, status=403)
    return render(request, "registration/locked.html", status=403)

"""Sign-in hardening: no redirect off the site from any `next`, and a token endpoint that does not
tell a caller without the second factor whether the password was right."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from axes.models import AccessAttempt
from django.db.models import Sum
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from agencies.accounts.mfa import base32_secret, current_code
from tests.factories import PASSWORD, TOTP_SECRET

OFF_SITE = ["https://evil.example/", "//evil.example/", "https:evil.example", "\\\\evil.example",
            "/\\evil.example", "\\/evil.example", "javascript:alert(1)", "http://evil.example",
            " https://evil.example", "https://testserver.evil.example/"]
TOKEN_URL = "/api/v1/auth/token/"


def _sign_in(next_url: str, *, secure: bool = False, username: str = "alice") -> tuple[Client, str]:
    """Post the password with a `next`; return the client and where sign-in sends it."""
    client = Client()
    response = client.post("/accounts/login/?next=" + quote(next_url, safe=""),
                           {"username": username, "password": PASSWORD, "next": next_url},
                           secure=secure)
    assert response.status_code == 302, response.status_code
    return client, response["Location"]


def _second_factor(client: Client, at: str, code: str, *, secure: bool = False) -> str:
    response = client.post(at, {"token": code}, secure=secure)
    assert response.status_code == 302, response.status_code
    return str(response["Location"])


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_second_factor_never_sends_anyone_off_the_site(cast, target: str) -> None:
    nested = "/accounts/mfa/verify/?next=" + quote(target, safe="")
    client, at = _sign_in(nested)
    assert at == nested  # a path on this site: allowed at the first hop
    assert _second_factor(client, at, current_code(TOTP_SECRET)) == "/"


@pytest.mark.parametrize("target", OFF_SITE)
def test_sign_in_never_sends_anyone_off_the_site(cast, target: str) -> None:
    _, at = _sign_in(target)
    assert at == "/"


def test_a_new_account_is_not_sent_off_the_site_after_enrolling(cast) -> None:
    TOTPDevice.objects.filter(user=cast.officer).delete()
    client, _ = _sign_in("/")
    client.post("/accounts/mfa/setup/", {"start": "1"})
    device = TOTPDevice.objects.get(user=cast.officer, confirmed=False)
    at = "/accounts/mfa/setup/?next=" + quote("//evil.example/", safe="")
    assert _second_factor(client, at, current_code(base32_secret(device))) == "/"


def test_a_local_next_is_still_followed_through_both_factors(cast) -> None:
    client, at = _sign_in("/accounts/mfa/verify/?next=" + quote("/cases/?status=approved", safe=""))
    assert _second_factor(client, at, current_code(TOTP_SECRET)) == "/cases/?status=approved"


def test_over_https_a_plain_http_next_is_refused(cast) -> None:
    client, at = _sign_in("/accounts/mfa/verify/?next=" + quote("http://testserver/cases/", safe=""),
                          secure=True)
    assert _second_factor(client, at, current_code(TOTP_SECRET), secure=True) == "/"


@pytest.mark.parametrize("target", OFF_SITE)
def test_signing_out_never_sends_anyone_off_the_site(cast, target: str) -> None:
    client, _ = _sign_in("/")
    response = client.post("/accounts/logout/?next=" + quote(target, safe=""))
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"


def _token(username: str, password: str, otp: str, ip: str) -> tuple[int, Any]:
    response = APIClient(REMOTE_ADDR=ip).post(TOKEN_URL, {"username": username, "password": password,
                                                          "otp": otp})
    return response.status_code, response.json()


def _failures(username: str) -> int:
    return AccessAttempt.objects.filter(username=username).aggregate(
        n=Sum("failures_since_start"))["n"] or 0


def test_a_wrong_code_answers_exactly_like_a_wrong_password(cast) -> None:
    TOTPDevice.objects.filter(user=cast.auditor).delete()  # erin never enrolled
    wrong_password = _token("alice", "not-her-password-1", current_code(TOTP_SECRET), "10.7.0.1")
    wrong_code = _token("bob", PASSWORD, "000000", "10.7.0.2")
    not_enrolled = _token("erin", PASSWORD, "123456", "10.7.0.3")
    no_such_user = _token("nobody-here", PASSWORD, "123456", "10.7.0.4")
    assert wrong_password[0] == 401 and wrong_password[1]["code"] == "invalid_credentials"
    assert wrong_code == wrong_password == not_enrolled == no_such_user
    assert "authenticator" in wrong_password[1]["detail"]  # says what a new account must do
    assert _failures("alice") == 1 and _failures("bob") == 1 and _failures("erin") == 1


def test_five_wrong_codes_lock_exactly_like_five_wrong_passwords(cast) -> None:
    by_password = [_token("alice", f"wrong-password-{n}", current_code(TOTP_SECRET), f"10.8.0.{n}")
                   for n in range(1, 7)]
    by_code = [_token("bob", PASSWORD, "000000", f"10.8.1.{n}") for n in range(1, 7)]
    assert by_password == by_code
    assert by_code[-1][0] == 403 and by_code[-1][1]["code"] == "account_locked"
    assert _token("bob", PASSWORD, current_code(TOTP_SECRET), "10.8.2.1")[1]["code"] == "account_locked"

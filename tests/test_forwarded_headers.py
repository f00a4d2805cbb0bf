"""X-Forwarded-For is written by the client: it may not choose the address that rate limits, the
lockout records and the audit trail see, unless the operator trusts that many proxies."""

from __future__ import annotations

from axes.models import AccessFailureLog
from django.test import Client
from rest_framework.test import APIClient

from agencies.audit.models import AuditAction, AuditEvent

TOKEN_URL = "/api/v1/auth/token/"
OPT_OUT_API = "/api/v1/public/opt-out/"


def _token_attempt(client: APIClient, forwarded: str, n: int = 0) -> int:
    return client.post(TOKEN_URL, {"username": f"nobody{n}", "password": "x", "otp": "1"},
                       HTTP_X_FORWARDED_FOR=forwarded).status_code


def test_a_new_forwarded_address_does_not_reset_the_token_limit(cast) -> None:
    client = APIClient(REMOTE_ADDR="10.20.0.1")
    codes = [_token_attempt(client, f"198.51.100.{n}", n) for n in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def test_a_new_forwarded_address_does_not_reset_the_invitation_accept_limit(cast) -> None:
    # The invitee's API shares the token scope; DRF's own throttle would key on the whole header.
    client = APIClient(REMOTE_ADDR="10.20.0.5")
    codes = [client.post("/api/v1/invitations/accept/", {"token": f"t{n}", "username": "x",
                                                         "password": "x"},
                         HTTP_X_FORWARDED_FOR=f"198.18.0.{n}").status_code for n in range(11)]
    assert codes[:10] == [codes[0]] * 10 and codes[0] != 429 and codes[10] == 429


def test_a_new_forwarded_address_does_not_reset_the_public_opt_out_limit(cast) -> None:
    client = APIClient(REMOTE_ADDR="10.20.0.2")
    codes = [client.post(OPT_OUT_API, {}, format="multipart",
                         HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code for n in range(11)]
    assert codes[:10] == [400] * 10 and codes[10] == 429


def test_a_new_forwarded_address_does_not_reset_the_sign_in_limit(cast) -> None:
    client = Client(REMOTE_ADDR="10.20.0.3")
    codes = [client.post("/accounts/login/", {"username": f"nobody{n}", "password": "x"},
                         HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code for n in range(21)]
    assert codes[:20] == [200] * 20 and codes[20] == 429


def test_the_lockout_and_the_audit_trail_record_the_connecting_address(cast) -> None:
    Client(REMOTE_ADDR="10.20.0.4").post("/accounts/login/", {"username": "alice", "password": "x"},
                                         HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert AccessFailureLog.objects.get(username="alice").ip_address == "10.20.0.4"
    assert AuditEvent.objects.get(action=AuditAction.SIGN_IN_FAILED).ip == "10.20.0.4"


def test_behind_one_trusted_proxy_the_right_most_forwarded_address_is_the_client(cast, settings) -> None:
    settings.TRUSTED_PROXIES = 1
    client = APIClient(REMOTE_ADDR="10.0.0.254")  # the proxy
    # Whatever the client wrote on the left, the proxy appended the address it saw.
    codes = [_token_attempt(client, f"1.2.3.{n}, 198.51.100.7", n) for n in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    assert _token_attempt(client, "1.2.3.4, 198.51.100.8") == 401  # another client: its own limit
    Client(REMOTE_ADDR="10.0.0.254").post("/accounts/login/", {"username": "alice", "password": "x"},
                                          HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.9")
    assert AccessFailureLog.objects.get(username="alice").ip_address == "198.51.100.9"
    assert AuditEvent.objects.get(action=AuditAction.SIGN_IN_FAILED, actor_name="alice").ip == "198.51.100.9"


def test_a_forwarded_value_that_is_not_an_address_is_ignored(cast, settings) -> None:
    settings.TRUSTED_PROXIES = 1
    Client(REMOTE_ADDR="10.0.0.254").post("/accounts/login/", {"username": "alice", "password": "x"},
                                          HTTP_X_FORWARDED_FOR="not-an-address")
    assert AuditEvent.objects.get(action=AuditAction.SIGN_IN_FAILED).ip == "10.0.0.254"

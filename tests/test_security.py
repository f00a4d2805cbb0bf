"""Authentication and session controls (CJIS IA-2, IA-5, AC-7, AC-11, AC-12), headers, rate limits."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agencies.accounts.mfa import base32_secret, current_code
from agencies.accounts.services import accounts_disable_inactive
from agencies.audit.models import AuditAction, AuditEvent
from agencies.tenancy.models import Membership, Role
from tests.factories import PASSWORD, TOTP_SECRET, member
from tests.fixtures import api_client, web_client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _password_only(username: str, password: str = PASSWORD, ip: str = "10.0.0.1") -> Client:
    client = Client(REMOTE_ADDR=ip)
    client.post("/accounts/login/", {"username": username, "password": password})
    return client


def test_a_password_alone_does_not_open_any_page(cast) -> None:
    client = _password_only("alice")
    for url in ("/", "/cases/", "/audit/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/mfa/verify/"), url


def test_the_code_completes_the_sign_in(cast) -> None:
    client = _password_only("alice")
    client.post("/accounts/mfa/verify/", {"token": current_code(TOTP_SECRET)})
    assert client.get("/cases/").status_code == 200


def test_a_wrong_code_is_refused_and_audited(cast) -> None:
    client = _password_only("alice")
    response = client.post("/accounts/mfa/verify/", {"token": "000000"})
    assert b"That code is not right" in response.content
    assert client.get("/cases/").status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.MFA_FAILED, actor=cast.officer).exists()
    client.post("/accounts/mfa/verify/", {"token": current_code(TOTP_SECRET)})
    assert client.get("/cases/").status_code == 200


def test_a_new_account_enrols_its_authenticator_at_first_sign_in(cast) -> None:
    newcomer = member(cast.agency, Role.OFFICER, "nina")
    TOTPDevice.objects.filter(user=newcomer).delete()
    client = _password_only("nina")
    assert client.get("/").headers["Location"] == "/accounts/mfa/setup/"
    start = client.get("/accounts/mfa/setup/")  # a GET creates nothing: the set-up starts on POST
    assert b"Set up my authenticator" in start.content and b"data:image/svg" not in start.content
    assert not TOTPDevice.objects.filter(user=newcomer).exists()
    page = client.post("/accounts/mfa/setup/", {"start": "1"}, follow=True)
    assert b"data:image/svg+xml;base64," in page.content
    device = TOTPDevice.objects.get(user=newcomer, confirmed=False)
    typo = client.post("/accounts/mfa/setup/", {"token": "000000"})
    assert b"That code is not right" in typo.content
    # The right code right after a typo works: the lockout counts wrong codes, nothing else waits.
    client.post("/accounts/mfa/setup/", {"token": current_code(base32_secret(device))})
    assert client.get("/cases/").status_code == 200
    assert TOTPDevice.objects.get(user=newcomer).confirmed
    assert AuditEvent.objects.filter(action=AuditAction.MFA_ENROLLED, actor=newcomer).exists()


def test_a_token_needs_the_second_factor(cast) -> None:
    client = APIClient()
    base = {"username": "alice", "password": PASSWORD}
    assert client.post("/api/v1/auth/token/", base).status_code == 400
    wrong = client.post("/api/v1/auth/token/", {**base, "otp": "000000"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    right = client.post("/api/v1/auth/token/", {**base, "otp": current_code(TOTP_SECRET)})
    assert right.status_code == 200 and right.json()["expires_in"] == 12 * 3600


def test_starting_the_set_up_twice_keeps_the_secret_already_shown(cast) -> None:
    newcomer = member(cast.agency, Role.OFFICER, "nina")
    TOTPDevice.objects.filter(user=newcomer).delete()
    client = _password_only("nina")
    first = client.post("/accounts/mfa/setup/", {"start": "1"}, follow=True).content
    again = client.post("/accounts/mfa/setup/", {"start": "1"}, follow=True).content
    device = TOTPDevice.objects.get(user=newcomer, confirmed=False)
    assert base32_secret(device).encode() in first and base32_secret(device).encode() in again
    refused = client.post("/accounts/mfa/setup/", {"token": "000000"})
    assert b"That code is not right" in refused.content
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed


def test_each_token_replaces_the_last_and_is_audited(cast) -> None:
    client = APIClient()
    credentials = {"username": "alice", "password": PASSWORD, "otp": current_code(TOTP_SECRET)}
    first = client.post("/api/v1/auth/token/", credentials).json()["token"]
    TOTPDevice.objects.filter(user=cast.officer).update(last_t=-1)  # the same code a second time
    second = client.post("/api/v1/auth/token/", credentials).json()["token"]
    assert first != second and list(Token.objects.filter(user=cast.officer)
                                     .values_list("key", flat=True)) == [second]
    assert APIClient(HTTP_AUTHORIZATION=f"Token {first}").get("/api/v1/cases/").status_code == 401
    assert APIClient(HTTP_AUTHORIZATION=f"Token {second}").get("/api/v1/cases/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_ISSUED, actor=cast.officer).count() == 2


def test_a_token_is_refused_before_the_authenticator_is_enrolled(cast) -> None:
    TOTPDevice.objects.filter(user=cast.officer).delete()
    response = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD,
                                                        "otp": "123456"})
    # Refused like a wrong password (no hint that the password was right), saying what to do.
    assert response.status_code == 401 and response.json()["code"] == "invalid_credentials"
    assert "set up its authenticator app" in response.json()["detail"]


def test_the_fifth_failure_locks_until_an_admin_unlocks(cast) -> None:
    for attempt in range(5):
        _password_only("alice", password=f"wrong-{attempt}", ip=f"10.0.0.{attempt + 1}")
    locked = Client(REMOTE_ADDR="10.0.1.1").post("/accounts/login/", {"username": "alice",
                                                                        "password": PASSWORD})
    assert locked.status_code == 403 and b"This account is locked" in locked.content
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_LOCKED, actor_name="alice").exists()
    token = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD,
                                                     "otp": current_code(TOTP_SECRET)})
    assert token.status_code == 403 and token.json()["code"] == "account_locked"
    admin = web_client(cast.admin)
    assert b"Unlock alice" in admin.get("/people/").content
    admin.post(f"/people/{cast.officer.pk}/unlock/")
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_UNLOCKED).exists()
    client = _password_only("alice", ip="10.0.1.2")
    client.post("/accounts/mfa/verify/", {"token": current_code(TOTP_SECRET)})
    assert client.get("/cases/").status_code == 200


def test_four_failures_do_not_lock(cast) -> None:
    for attempt in range(4):
        _password_only("alice", password=f"wrong-{attempt}")
    client = _password_only("alice")
    assert client.get("/").headers["Location"].startswith("/accounts/mfa/verify/")


def _age_failures(username: str, minutes: int) -> None:
    """Move a user's recorded failures into the past, as if they had happened `minutes` ago."""
    past = timezone.now() - timedelta(minutes=minutes)
    AccessFailureLog.objects.filter(username=username).update(attempt_time=past)
    AccessAttempt.objects.filter(username=username).update(attempt_time=past)


def test_failures_older_than_fifteen_minutes_do_not_count(cast) -> None:
    for attempt in range(4):
        _password_only("alice", password=f"wrong-{attempt}", ip=f"10.0.2.{attempt + 1}")
    _age_failures("alice", 16)
    for attempt in range(4):  # eight failures in all, but only four within 15 minutes
        _password_only("alice", password=f"again-{attempt}", ip=f"10.0.3.{attempt + 1}")
    client = _password_only("alice", ip="10.0.3.9")
    assert client.get("/").headers["Location"].startswith("/accounts/mfa/verify/")


def test_a_lock_outlasts_the_window_until_an_admin_unlocks(cast) -> None:
    for attempt in range(5):
        _password_only("alice", password=f"wrong-{attempt}", ip=f"10.0.4.{attempt + 1}")
    _age_failures("alice", 60)
    _password_only("alice", password="wrong-later", ip="10.0.4.9")
    locked = Client(REMOTE_ADDR="10.0.4.10").post("/accounts/login/", {"username": "alice",
                                                                         "password": PASSWORD})
    assert locked.status_code == 403 and b"This account is locked" in locked.content


def test_another_agencys_admin_cannot_unlock(cast) -> None:
    response = web_client(cast.other_admin).post(f"/people/{cast.officer.pk}/unlock/")
    assert response.status_code == 404


def test_an_idle_session_ends(cast) -> None:
    client = web_client(cast.officer)
    assert client.get("/cases/").status_code == 200
    session = client.session
    session["casebound_seen"] = time.time() - 31 * 60
    session.save()
    response = client.get("/cases/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.get("/cases/").status_code == 302
    assert AuditEvent.objects.get(action=AuditAction.SESSION_EXPIRED).details == {"reason": "idle"}


def test_a_session_ends_after_twelve_hours_in_all(cast) -> None:
    client = web_client(cast.officer)
    client.get("/cases/")
    session = client.session
    session["casebound_started"] = time.time() - 12 * 3600 - 1
    session.save()
    assert client.get("/cases/").status_code == 302


def test_an_old_token_is_refused(cast) -> None:
    client = api_client(cast.officer)
    assert client.get("/api/v1/cases/").status_code == 200
    Token.objects.filter(user=cast.officer).update(created=timezone.now() - timedelta(hours=13))
    response = client.get("/api/v1/cases/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_lapsed_training_stops_the_account(cast) -> None:
    Membership.objects.filter(user=cast.officer).update(
        training_valid_until=timezone.now().date() - timedelta(days=1))
    response = Client().post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert b"training is not on record or has lapsed" in response.content
    assert api_client(cast.officer).get("/api/v1/cases/").status_code == 401


def test_accounts_unused_for_ninety_days_are_disabled(cast) -> None:
    type(cast.officer).objects.filter(pk=cast.officer.pk).update(
        last_login=timezone.now() - timedelta(days=91))
    type(cast.supervisor).objects.filter(pk=cast.supervisor.pk).update(
        last_login=timezone.now() - timedelta(days=10))
    assert accounts_disable_inactive() >= 1
    cast.officer.refresh_from_db()
    cast.supervisor.refresh_from_db()
    assert not cast.officer.is_active and cast.supervisor.is_active
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_DISABLED,
                                     object_id=str(cast.officer.pk)).exists()


def test_short_and_common_passwords_are_refused() -> None:
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("short-pw", "password1234", "123456789012"):
        try:
            validate_password(weak)
        except ValidationError:
            continue
        raise AssertionError(f"{weak!r} was accepted")


def test_pages_carry_the_security_headers(cast) -> None:
    response = web_client(cast.officer).get("/cases/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_the_token_endpoint_is_rate_limited(cast) -> None:
    client = APIClient()
    codes = [client.post("/api/v1/auth/token/", {"username": f"nobody{n}", "password": "x",
                                                 "otp": "1"}).status_code for n in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429


def test_the_sign_in_page_is_rate_limited(cast) -> None:
    client = Client(REMOTE_ADDR="10.9.9.9")
    codes = [client.post("/accounts/login/", {"username": f"nobody{n}", "password": "x"}).status_code
             for n in range(21)]
    assert codes[:20] == [200] * 20 and codes[20] == 429


def test_searches_are_rate_limited(cast) -> None:
    client = api_client(cast.officer)
    codes = [client.post("/api/v1/searches/", {"case": 0}).status_code for _ in range(31)]
    assert 429 not in codes[:30] and codes[30] == 429


def test_check_deploy_reports_nothing_with_production_settings() -> None:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {**env, "DJANGO_SETTINGS_MODULE": "portal.settings.production",
           "DJANGO_SECRET_KEY": "k3y-" + "x7Qp2vLm9RtZ" * 5, "ALLOWED_HOSTS": "casebound.example.org",
           "CASEBOUND_SITE_URL": "https://casebound.example.org"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_platform_staff_need_the_second_factor_too(cast) -> None:
    client = _password_only(cast.operator.username)
    for url in ("/admin/", "/platform/"):
        assert client.get(url).headers["Location"].startswith("/accounts/mfa/verify/"), url
    TOTPDevice.objects.filter(user=cast.operator).delete()  # staff without an authenticator
    assert client.get("/admin/").headers["Location"].startswith("/accounts/mfa/setup/")


def test_production_settings_require_the_site_address_for_mailed_links() -> None:
    env = {key: value for key, value in os.environ.items() if key != "CASEBOUND_SITE_URL"}
    env = {**env, "DJANGO_SETTINGS_MODULE": "portal.settings.production",
           "DJANGO_SECRET_KEY": "k3y-" + "x7Qp2vLm9RtZ" * 5, "ALLOWED_HOSTS": "example.org"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "CASEBOUND_SITE_URL" in result.stderr

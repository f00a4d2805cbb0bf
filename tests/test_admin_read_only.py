"""The Django admin is read-only: walked model by model as a superuser with both factors, it adds,
changes and deletes nothing, mints no token and never shows a token, a TOTP seed or a password hash.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from tests.factories import TOTP_SECRET
from tests.fixtures import web_client


@pytest.fixture
def secrets(cast, operator) -> list[str]:
    """One row of every kind the admin could show, and the secrets that must never appear."""
    Group.objects.create(name="Reviewers")
    attempt = {"username": "alice", "ip_address": "10.9.9.9", "user_agent": "probe",
               "http_accept": "*/*", "path_info": "/accounts/login/", "attempt_time": timezone.now()}
    AccessAttempt.objects.create(**attempt, get_data="", post_data="", failures_since_start=2)
    AccessFailureLog.objects.create(**attempt, locked_out=False)
    AccessLog.objects.create(**attempt)
    token = Token.objects.create(user=cast.officer)
    device = TOTPDevice.objects.get(user=cast.officer)
    cast.officer.refresh_from_db()
    return [token.key, device.key, TOTP_SECRET, cast.officer.password,
            cast.officer.password.rsplit("$", 1)[-1]]


def _snapshot() -> dict[str, list[dict[str, Any]]]:
    models = [*admin.site._registry, Token]
    return {m._meta.label: list(m._default_manager.order_by("pk").values()) for m in models}


def _urls(model: Any, model_admin: Any, pk: Any) -> list[str]:
    """Every address the ModelAdmin serves, its own and any custom view, for one object."""
    base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    return [base + re.sub(r"<[^>]+>", str(pk), str(p.pattern)) for p in model_admin.get_urls()]


def _hostile_form(obj: Any, cast) -> dict[str, Any]:
    """Whatever a form of this model might take, plus changes an insider would want."""
    data = {f.attname: "" if getattr(obj, f.attname) is None else str(getattr(obj, f.attname))
            for f in obj._meta.concrete_fields}
    return {**data, "username": "mallory", "is_superuser": "on", "is_staff": "on",
            "role": "agency_admin", "name": "Hijacked", "user": cast.officer.pk,
            "password1": "Zq7-unused-pass-9", "password2": "Zq7-unused-pass-9", "agency": cast.agency.pk,
            "action": "delete_selected", "_selected_action": [obj.pk], "post": "yes",
            "confirmed": "on", "failures_since_start": "0"}


def _assert_no_secret(url: str, response: Any, secrets: list[str]) -> None:
    for secret in secrets:
        assert secret.encode() not in response.content, f"{url} shows a secret"


def test_every_registered_model_admin_is_read_only_for_the_superuser(cast, operator, secrets) -> None:
    client = web_client(operator)
    before = _snapshot()
    assert client.get("/admin/").status_code == 200
    for model, model_admin in admin.site._registry.items():
        obj = model._default_manager.order_by("pk").first()
        assert obj is not None, f"arrange a {model._meta.label} so the walk covers its admin"
        for url in _urls(model, model_admin, obj.pk):
            page = client.get(url)
            assert page.status_code in {200, 302, 403}, (url, page.status_code)
            _assert_no_secret(url, page, secrets)
            written = client.post(url, _hostile_form(obj, cast))
            if url.endswith(("/add/", "/change/", "/delete/", "/password/")):
                assert written.status_code == 403, (url, written.status_code)
            _assert_no_secret(url, written, secrets)
    assert _snapshot() == before


def test_the_admin_lists_no_token_and_mints_none(cast, operator, secrets) -> None:
    client = web_client(operator)
    assert b"/admin/authtoken/" not in client.get("/admin/").content
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 404
    minted = client.post("/admin/authtoken/tokenproxy/add/", {"user": cast.supervisor.pk})
    assert minted.status_code == 404
    assert not Token.objects.filter(user=cast.supervisor).exists()


def test_the_admin_never_shows_a_totp_seed_or_qr_code(cast, operator, secrets) -> None:
    client = web_client(operator)
    device = TOTPDevice.objects.get(user=cast.officer)
    base = "/admin/otp_totp/totpdevice/"
    for url in (f"{base}{device.pk}/config/", f"{base}{device.pk}/qrcode/"):
        assert client.get(url).status_code == 403, url
    page = client.get(f"{base}{device.pk}/change/")
    assert page.status_code == 200 and b"Configuration" in page.content
    _assert_no_secret(base, page, secrets)


def test_staff_of_an_agency_do_not_get_into_the_admin(cast) -> None:
    cast.admin.is_staff = cast.admin.is_superuser = True
    cast.admin.save()
    response = web_client(cast.admin).get("/admin/agencies/membership/")
    assert response.status_code == 302 and "login" in response["Location"]

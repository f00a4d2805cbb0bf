"""Requests that once answered 500 (found by schemathesis against the served portal) answer a 4xx
or a 2xx that says what to do."""

from __future__ import annotations

from rest_framework.test import APIClient

from agencies.billing.models import License, Plan
from agencies.tenancy.models import Agency
from tests.fixtures import api_client

MULTIPART = b'--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na@b.c\r\n--x--\r\n'


def test_options_on_the_public_opt_out_describes_the_form(db) -> None:
    for body in ({"data": MULTIPART, "content_type": "multipart/form-data; boundary=x"}, {}):
        response = APIClient().options("/api/v1/public/opt-out/", **body)
        assert response.status_code == 200, response.content
        assert set(response.json()["actions"]["POST"]) == {"photo", "email", "residence"}


def test_an_agency_without_kind_or_country_is_refused_by_field(cast) -> None:
    response = api_client(cast.operator).post("/api/v1/platform/agencies/", {"name": "East", "slug": "east"})
    assert response.status_code == 400, response.content
    assert set(response.json()["errors"]) == {"kind", "country"}
    assert not Agency.objects.filter(slug="east").exists()


def test_a_plan_that_licenses_use_cannot_be_deleted(cast) -> None:
    plan_id = License.objects.filter(agency=cast.agency).values_list("plan_id", flat=True).first()
    response = api_client(cast.operator).delete(f"/api/v1/platform/plans/{plan_id}/")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "plan_in_use" and "another plan" in response.json()["detail"]
    assert Plan.objects.filter(pk=plan_id).exists()

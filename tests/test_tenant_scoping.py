"""Tenant scoping done once: the base API viewset, the tenant querysets and the member helpers."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import include, path
from rest_framework import mixins
from rest_framework.authtoken.models import Token
from rest_framework.routers import SimpleRouter

from agencies.accounts import authentication
from agencies.accounts.selectors import agency_members_with_roles
from agencies.billing.models import License
from agencies.tenancy import middleware
from agencies.tenancy.apis import TenantViewSet
from agencies.tenancy.models import Membership
from portal import urls as portal_urls
from portal.db import scope
from search.models import Case, RetentionPolicy, SearchPolicy
from search.selectors import agency_members
from search.serializers import CaseSerializer
from tests.factories import CaseFactory
from tests.fixtures import api_client, web_client


class PlainCaseViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, TenantViewSet[Case]):
    """A concrete viewset as a newcomer would write it: a plain queryset, no filter of its own."""

    queryset = Case.objects.all()
    serializer_class = CaseSerializer


router = SimpleRouter()
router.register("plain-cases", PlainCaseViewSet, basename="plain-case")
urlpatterns = [path("test-api/", include(router.urls)), *portal_urls.urlpatterns]


@pytest.fixture
def without_row_security(monkeypatch: Any) -> None:
    """Requests see every agency's rows, so that only the application's scoping holds them back."""
    monkeypatch.setattr(middleware, "user_scope", lambda user: scope.EVERYTHING)
    monkeypatch.setattr(authentication, "user_scope", lambda user: scope.EVERYTHING)


@pytest.mark.urls(__name__)
def test_a_viewset_with_a_plain_queryset_answers_404_for_another_agencys_object(
        cast, without_row_security) -> None:
    own = CaseFactory(agency=cast.agency, opened_by=cast.officer)
    foreign = CaseFactory(agency=cast.other_agency, opened_by=cast.other_officer)
    client = api_client(cast.officer)

    assert client.get(f"/test-api/plain-cases/{own.pk}/").status_code == 200
    response = client.get(f"/test-api/plain-cases/{foreign.pk}/")
    assert response.status_code == 404
    assert response.json() == client.get("/test-api/plain-cases/999999/").json()
    listed = client.get("/test-api/plain-cases/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [own.pk]


def test_a_viewset_cannot_override_the_scoped_get_queryset() -> None:
    with pytest.raises(TypeError, match="tenant_queryset"):
        class Unscoped(TenantViewSet[Case]):
            def get_queryset(self) -> Any:
                return Case.objects.all()


def test_licenses_memberships_and_policies_have_the_tenant_queryset(cast) -> None:
    SearchPolicy.objects.get_or_create(agency=cast.agency)
    RetentionPolicy.objects.get_or_create(agency=cast.other_agency)
    assert {lic.agency for lic in License.objects.for_agency(cast.agency)} == {cast.agency}
    assert {m.agency for m in Membership.objects.for_agency(cast.agency)} == {cast.agency}
    assert SearchPolicy.objects.for_agency(cast.agency).count() == 1
    assert [p.agency for p in SearchPolicy.objects.for_agency(cast.other_agency)] in (
        [], [cast.other_agency])
    assert RetentionPolicy.objects.for_agency(cast.other_agency).count() == 1
    assert not Membership.objects.for_agency(None).exists()


def test_the_member_helpers_return_nobody_for_no_agency(cast) -> None:
    # The operator and any half-made account have no membership: no agency must not mean them.
    assert not Membership.objects.filter(user=cast.operator).exists()
    assert list(agency_members(agency=None)) == []
    assert list(agency_members_with_roles(agency=None)) == []
    assert cast.officer in agency_members(agency=cast.agency)
    assert cast.other_officer not in agency_members_with_roles(agency=cast.agency)


def test_the_api_acts_for_the_tokens_agency_not_the_sessions(cast) -> None:
    # A browser signed in to agency A that sends agency B's token acts for B only: the agency is
    # resolved for the user DRF authenticated, after the middleware saw the session's user.
    own = CaseFactory(agency=cast.agency, opened_by=cast.officer)
    theirs = CaseFactory(agency=cast.other_agency, opened_by=cast.other_officer)
    client = web_client(cast.officer)
    token, _ = Token.objects.get_or_create(user=cast.other_officer)
    listed = client.get("/api/v1/cases/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [theirs.pk]
    assert client.get(f"/api/v1/cases/{own.pk}/",
                      HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 404
    assert [row["id"] for row in client.get("/api/v1/cases/").json()["results"]] == [own.pk]


def test_a_session_without_its_second_factor_acts_for_no_agency_in_the_api(cast) -> None:
    CaseFactory(agency=cast.agency, opened_by=cast.officer)
    client = Client()
    client.force_login(cast.officer)  # password only: the second factor was not verified
    response = client.get("/api/v1/cases/")
    assert response.status_code in (401, 403)
    assert "results" not in response.json()

"""Tenant isolation, proven by walking every route and every OpenAPI operation.

Agency A's objects are given to users of agency B (every role) and to anonymous clients, on every
URL pattern and API operation that takes an id. Each must answer 404 to B (403 where B's role is
refused before the lookup; 405 for a method the route does not serve) and 401/403 or the sign-in
page to anonymous, and no answer may contain a byte of A's data. A new route with an id that the
walk does not know fails the test, so scoping cannot be forgotten.

Each list answers 200 to the agency B user whose role reads it, and shows B's rows, by id, and no
others.

Each walk runs twice: with both walls, and with the application's filter (`for_agency`) switched
off, so that Postgres row-level security alone must hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from agencies.accounts.models import Invitation
from agencies.accounts.services import member_update
from agencies.audit.models import AuditAction, AuditEvent
from agencies.audit.trail import audit_record
from agencies.billing.models import Invoice, License
from agencies.tenancy.models import Membership, Role
from agencies.tenancy.permissions import SYSTEM
from agencies.tenancy.querysets import TenantQuerySet
from search.models import EnrollmentBatch, Face, OptOutConsultation, OptOutRequest, Subject
from search.services import searching
from search.services.enrollment import face_enroll
from search.services.privacy import optout_submit
from tests import photos
from tests.factories import GalleryFactory, assigned_case, member
from tests.fixtures import api_client, enroll_people, web_client

SECRETS = ["A-SECRET-CASE-7", "A-SECRET-JUSTIFICATION", "A-SECRET-GALLERY", "Ariel_Sharon"]
PUBLIC = {"login", "logout", "mfa-setup", "mfa-verify", "api-token", "opt-out", "transparency",
          "public-opt-out-list", "invitation-accept-api", "opt-out-confirm"}
# Reached by an unguessable token, which is the credential itself (an invitation link, the link
# that confirms an opt-out's e-mail address).
TOKEN_ROUTES = {"invitation-accept", "opt-out-confirm"}
PLATFORM_ONLY = "platform/"  # the operator's routes: every agency user is refused
DENIED = {401, 403, 404, 405}


@pytest.fixture
def agency_a(cast) -> dict[str, Any]:
    """Agency A's objects of every kind, with recognisable contents."""
    gallery = GalleryFactory(agency=cast.agency, name="A-SECRET-GALLERY")
    enroll_people(gallery, count=1)  # Ariel_Sharon, the first fixture person
    case = assigned_case(cast.agency, cast.officer, case_number="A-SECRET-CASE-7",
                         justification="A-SECRET-JUSTIFICATION")
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Ariel_Sharon", 2))
    searching.search_run(search_id=search.pk)
    assert search.candidates.exists()
    event = audit_record(action=AuditAction.CASE_OPENED, agency=cast.agency, actor=cast.officer,
                         details={"case_number": "A-SECRET-CASE-7"})
    opt_out = optout_submit(photo=photos.photo("Tony_Blair", 1), email="x@example.org",
                            residence="X", link_for=str)
    consultation = OptOutConsultation.objects.create(
        agency=cast.agency, request=opt_out, deadline=timezone.now() + timedelta(days=14),
        face_ids=list(Face.objects.filter(agency=cast.agency).values_list("pk", flat=True)))
    invoice = Invoice.objects.create(agency=cast.agency, number="A-INV-1", period=date(2026, 1, 1),
                                     currency="USD", total=Decimal("1.00"),
                                     issued_at=timezone.now())
    license_a = License.objects.get(agency=cast.agency)
    role_request = member_update(admin=cast.admin, user=cast.officer, role=Role.SUPERVISOR)
    batch = EnrollmentBatch.objects.create(agency=cast.agency, gallery=gallery, archive="batches/a.zip",
                                           archive_sha256="0", created_by=cast.admin)
    invitation = Invitation.objects.create(
        agency=cast.agency, token="A-SECRET-TOKEN", email="a-invitee@example.org",
        role=Role.OFFICER, created_by=cast.admin, expires_at=timezone.now() + timedelta(days=7))
    return {"subjects": Subject.objects.filter(agency=cast.agency)[0].pk, "invoices": invoice.pk,
            "invitations": invitation.pk, "people/invites": invitation.pk,
            "batches": batch.pk,
            "platform/agencies": cast.agency.pk, "platform/licenses": license_a.pk,
            "platform/plans": license_a.plan_id,
            "platform/opt-outs": opt_out.pk, "opt-out-reviews": consultation.pk,
            "cases": case.pk, "searches": search.pk,
            "galleries": gallery.pk, "audit": event.pk,
            "people": cast.officer.pk, "role-requests": role_request.pk,
            "images/faces": Face.objects.filter(agency=cast.agency)[0].pk,
            "images/searches": search.pk}


def _without_app_filter(self: TenantQuerySet[Any], agency: Any) -> TenantQuerySet[Any]:
    """`for_agency` with the application's filter taken out: every agency's rows are asked for,
    and only row-level security can hold them back (no agency still sees nothing, as before)."""
    return self.none() if agency is None else self.all()


@pytest.fixture(params=["both walls", "row-level security alone"])
def walls(request: Any, monkeypatch: Any, agency_a: dict[str, Any]) -> str:
    """After agency A is arranged, optionally take the first wall down."""
    if request.param == "row-level security alone":
        monkeypatch.setattr(TenantQuerySet, "for_agency", _without_app_filter)
    return str(request.param)


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, str | None]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.name


def _concrete(route: str, ids: dict[str, int]) -> str | None:
    """A route with A's ids filled in; None for routes without an object id."""
    path = route.replace("^", "").replace("$", "")
    if "format" in path or "<" not in path and "(?P<" not in path:
        return None
    kind = next((k for k in sorted(ids, key=len, reverse=True)
                 if re.search(rf"(^|/){re.escape(k)}/", re.sub(r"^api/v1/", "", path))), None)
    if kind is None:
        raise AssertionError(f"route {route!r} takes an id the isolation walk does not know: "
                             "teach the walk its object, and scope the view")
    path = re.sub(r"\(\?P<pk>[^)]*\)|<int:pk>", str(ids[kind]), path)
    path = re.sub(r"\(\?P<rank>[^)]*\)|<int:rank>", "1", path)
    path = path.replace("<int:face>", str(ids["images/faces"]))  # a face of A's subject
    return "/" + path.replace("<str:part>", "probe")


def _other_agency_clients(cast) -> list[tuple[str, Any]]:
    users = [cast.other_officer, cast.other_admin,
             member(cast.other_agency, Role.SUPERVISOR, "sid"),
             member(cast.other_agency, Role.AUDITOR, "ada")]
    return [(f"{u.username} (api)", api_client(u)) for u in users] + \
           [(f"{u.username} (browser)", web_client(u)) for u in users]


def _denied(response: Any, allowed: set[int]) -> bool:
    """Refused, or sent to sign in (an API token is no browser session, and the reverse)."""
    to_sign_in = response.status_code == 302 and "/accounts/login/" in response["Location"]
    return to_sign_in or response.status_code in allowed


def _assert_nothing_leaks(who: str, url: str, response: Any) -> None:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    for secret in SECRETS:
        assert secret.encode() not in body, f"{who} saw {secret} at {url}"
    assert not response.get("Content-Type", "").startswith(("image/", "application/pdf")), (who, url)


def test_every_route_with_an_id_hides_agency_a(cast, agency_a, walls) -> None:
    clients = _other_agency_clients(cast)
    checked = 0
    for route, name in _routes(get_resolver().url_patterns):
        if route.startswith("admin/") or name in TOKEN_ROUTES:
            continue
        url = _concrete(route, agency_a)
        if url is None:
            continue
        statuses = set()
        for who, client in clients:
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                assert _denied(response, DENIED), f"{who} {method.upper()} {url}: {response.status_code}"
                _assert_nothing_leaks(who, url, response)
                statuses.add(response.status_code)
        if PLATFORM_ONLY not in url:
            assert 404 in statuses, f"no user of agency B got past the role checks at {url} ({name})"
        checked += 1
    assert checked >= 20


def test_every_route_refuses_anonymous_clients(cast, agency_a, walls) -> None:
    for route, name in _routes(get_resolver().url_patterns):
        if route.startswith("admin/") or name in PUBLIC | TOKEN_ROUTES:
            continue
        url = _concrete(route, agency_a) or "/" + re.sub(r"[\^$]", "", route)
        if "(?P<format>" in url or "<drf_format_suffix" in url:
            continue
        for client in (Client(), APIClient()):
            response = client.get(url)
            assert _denied(response, {401, 403, 405}), f"anonymous GET {url}: {response.status_code}"
            _assert_nothing_leaks("anonymous", url, response)


def test_every_openapi_operation_hides_agency_a(cast, agency_a, walls) -> None:
    schema = api_client(cast.admin).get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    clients = [c for c in _other_agency_clients(cast) if c[0].endswith("(api)")]
    operations = 0
    for path, methods in schema["paths"].items():
        if "{" not in path:
            continue
        route = path.lstrip("/").replace("{id}", "(?P<pk>x)").replace("{rank}", "(?P<rank>1)")
        url = _concrete(route, agency_a)
        assert url is not None, path
        for method in methods:
            statuses = set()
            for who, client in clients:
                response = getattr(client, method)(url, {}, format="json")
                assert _denied(response, DENIED), f"{who} {method.upper()} {url}: {response.status_code}"
                _assert_nothing_leaks(who, url, response)
                statuses.add(response.status_code)
            if PLATFORM_ONLY not in path:
                assert 404 in statuses, f"{method.upper()} {path}"
            operations += 1
    assert operations >= 10


@pytest.fixture
def agency_b(cast) -> dict[str, Any]:
    """Agency B's own rows, one of each kind its lists show. Requested before `walls`, so that
    B's search is arranged (and ranked) with the application's filter on."""
    gallery = GalleryFactory(agency=cast.other_agency, name="B-GALLERY")
    face_enroll(actor=SYSTEM, gallery=gallery, subject_reference="B-1", image=photos.photo("Tony_Blair", 0))
    case = assigned_case(cast.other_agency, cast.other_officer, case_number="B-CASE-1")
    search = searching.search_create(case=case, user=cast.other_officer,
                                     probe=photos.photo("Tony_Blair", 2))
    searching.search_run(search_id=search.pk)
    request = OptOutRequest.objects.get()  # agency A's request; B holds a match too
    consultation = OptOutConsultation.objects.create(
        agency=cast.other_agency, request=request, deadline=timezone.now() + timedelta(days=14),
        face_ids=list(Face.objects.filter(agency=cast.other_agency).values_list("pk", flat=True)))
    return {"case": case.pk, "gallery": gallery.pk, "search": search.pk,
            "consultation": consultation.pk}


def _b_events(cast) -> set[int]:
    return set(AuditEvent.objects.filter(agency=cast.other_agency).values_list("pk", flat=True))


def _b_seqs(cast) -> set[str]:
    return {str(seq) for seq in
            AuditEvent.objects.filter(agency=cast.other_agency).values_list("seq", flat=True)}


def _api_ids(response: Any) -> set[int]:
    body = response.json()
    return {row["id"] for row in (body["results"] if isinstance(body, dict) else body)}


def _links(response: Any, prefix: str) -> set[int]:
    return {int(pk) for pk in re.findall(rf'href="/{prefix}/(\d+)/"', response.content.decode())}


def _list_readers(cast) -> dict[str, Any]:
    """Agency B's user who may read each list, with what the list must hold: B's rows, by id."""
    b = cast.other_agency
    ada = Membership.objects.select_related("user").get(agency=b, user__username="ada").user
    return {
        "/api/v1/cases/": (cast.other_officer, _api_ids, lambda ids: {ids["case"]}),
        "/api/v1/galleries/": (cast.other_officer, _api_ids, lambda ids: {ids["gallery"]}),
        "/api/v1/searches/": (cast.other_officer, _api_ids, lambda ids: {ids["search"]}),
        "/api/v1/audit/?limit=100": (ada, _api_ids, lambda ids: _b_events(cast)),
        "/api/v1/opt-out-reviews/": (cast.other_admin, _api_ids, lambda ids: {ids["consultation"]}),
        "/cases/": (cast.other_officer, lambda r: _links(r, "cases"), lambda ids: {ids["case"]}),
        "/": (cast.other_officer, lambda r: _links(r, "cases") | _links(r, "searches"),
              lambda ids: {ids["case"], ids["search"]}),
        "/galleries/": (cast.other_admin, lambda r: _links(r, "galleries"),
                        lambda ids: {ids["gallery"]}),
        "/opt-out-reviews/": (cast.other_admin, lambda r: _links(r, "opt-out-reviews"),
                              lambda ids: {ids["consultation"]}),
        "/people/": (cast.other_admin,
                     lambda r: set(re.findall(r'id="person-([\w.-]+)"', r.content.decode())),
                     lambda ids: {"charlie", "oscar", "sid", "ada"}),
        "/audit/": (ada, lambda r: set(re.findall(r'<tr class="audit-row"><td>(\d+)</td>',
                                                  r.content.decode())),
                    lambda ids: _b_seqs(cast)),
        "/audit/export.csv": (ada, lambda r: {line.split(",")[0] for line in
                                              b"".join(r.streaming_content).decode().splitlines()[1:]},
                              lambda ids: _b_seqs(cast)),
        "/audit/reports/": (ada, lambda r: set(re.findall(r"<td>(charlie|alice)</td>",
                                                          r.content.decode())),
                            lambda ids: {"charlie"}),
        "/policy/": (cast.other_admin, lambda r: b.name in r.content.decode(), lambda ids: True),
    }


def test_lists_of_agency_b_show_its_own_rows_and_nothing_of_agency_a(
        cast, agency_a, agency_b, walls) -> None:
    clients = _other_agency_clients(cast)  # sid and ada join agency B here
    for url, (reader, shown, expected) in _list_readers(cast).items():
        for who, client in clients:
            response = client.get(url)
            _assert_nothing_leaks(who, url, response)
        for client in (api_client(reader), web_client(reader)):
            if url.startswith("/api/") != isinstance(client, APIClient):
                continue
            response = client.get(url)
            assert response.status_code == 200, f"{reader} {url}: {response.status_code}"
            assert shown(response) == expected(agency_b), f"{reader} {url}"


def test_an_invitation_link_needs_its_exact_token(cast) -> None:
    from agencies.accounts.services import invitation_create

    invitation = invitation_create(admin=cast.admin, email="n@example.org", role=Role.OFFICER)
    assert Client().get(f"/invitations/{invitation.token}/").status_code == 200
    assert Client().get(f"/invitations/{invitation.token[:-1]}x/").status_code == 404

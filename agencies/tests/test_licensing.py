"""Eligibility, licenses, seats, quotas, metering once, invoices and the monthly rollover."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from pypdf import PdfReader

from agencies.accounts.services import invitation_accept, invitation_create, member_update
from agencies.audit.models import AuditAction, AuditEvent
from agencies.billing.licensing import agency_register
from agencies.billing.metering import invoice_lines, meter, meter_search, period_close
from agencies.billing.models import (
    Invoice,
    License,
    LicenseStatus,
    OveragePolicy,
    Plan,
    UsageEvent,
    UsageKind,
)
from agencies.billing.selectors import license_warnings
from agencies.tenancy.models import AgencyKind, Role
from portal.errors import ServiceError
from search.models import Search
from search.services import searching
from tests import photos
from tests.factories import GalleryFactory, PlanFactory, assigned_case, member
from tests.fixtures import api_client, enroll_people


def _search_api(cast: Any) -> Any:
    case = assigned_case(cast.agency, cast.officer)
    probe = SimpleUploadedFile("p.jpg", photos.photo("Colin_Powell", 2), content_type="image/jpeg")
    return api_client(cast.officer).post("/api/v1/searches/", {"case": case.pk, "probe": probe},
                                         format="multipart")


def _license(cast: Any) -> License:
    return License.objects.get(agency=cast.agency)


def test_private_companies_are_refused(operator) -> None:
    with pytest.raises(ServiceError) as refused:
        agency_register(actor=operator, name="Acme Security", slug="acme",
                        kind=AgencyKind.PRIVATE, country="US", region="CA")
    assert refused.value.code == "not_eligible" and "public bodies" in refused.value.message


def test_an_excluded_jurisdiction_is_refused_with_the_reason_recorded(operator) -> None:
    with pytest.raises(ServiceError) as refused:
        agency_register(actor=operator, name="Chicago PD", slug="chicago",
                        kind=AgencyKind.LAW_ENFORCEMENT, country="us", region="il")
    assert "BIPA" in refused.value.message
    event = AuditEvent.objects.get(action=AuditAction.AGENCY_REFUSED)
    assert "BIPA" in event.details["reason"] and event.details["name"] == "Chicago PD"


def test_a_public_body_elsewhere_is_registered(operator) -> None:
    agency = agency_register(actor=operator, name="Fresno PD", slug="fresno",
                             kind=AgencyKind.LAW_ENFORCEMENT, country="US", region="CA")
    assert agency.pk and agency.region == "CA"


@pytest.mark.parametrize("change, code", [
    ({"status": LicenseStatus.SUSPENDED, "suspension_reason": "unpaid invoice"}, "license_suspended"),
    ({"ends_on": date.today() - timedelta(days=1), "starts_on": date.today() - timedelta(days=400)},
     "license_expired"),
])
def test_a_license_problem_refuses_searches(cast, change: dict[str, Any], code: str) -> None:
    License.objects.filter(agency=cast.agency).update(**change)
    response = _search_api(cast)
    assert response.status_code == 402 and response.json()["code"] == code
    assert not Search.objects.exists()


def test_no_license_refuses_searches(cast) -> None:
    License.objects.filter(agency=cast.agency).delete()
    assert _search_api(cast).json()["code"] == "license_missing"


def _use(cast: Any, count: int) -> None:
    for n in range(count):
        meter(agency=cast.agency, kind=UsageKind.SEARCH, key=f"test:{n}", day=date.today())


def test_a_refusing_quota_stops_searches(cast) -> None:
    Plan.objects.filter(licenses__agency=cast.agency).update(monthly_search_quota=3)
    _use(cast, 3)
    response = _search_api(cast)
    assert response.status_code == 402 and response.json()["code"] == "quota_exceeded"


def test_a_billing_quota_lets_searches_through(cast) -> None:
    Plan.objects.filter(licenses__agency=cast.agency).update(monthly_search_quota=3,
                                                            overage_policy=OveragePolicy.BILL)
    _use(cast, 3)
    assert _search_api(cast).status_code == 202


def test_warnings_at_eighty_and_hundred_percent_and_before_expiry(cast) -> None:
    Plan.objects.filter(licenses__agency=cast.agency).update(monthly_search_quota=10)
    _use(cast, 8)
    assert any("80%" in w for w in license_warnings(cast.agency))
    _use(cast, 10)
    assert any("used up" in w for w in license_warnings(cast.agency))
    License.objects.filter(agency=cast.agency).update(ends_on=date.today() + timedelta(days=20))
    assert any("20 days left" in w for w in license_warnings(cast.agency))


def test_seats_limit_active_officers(cast) -> None:
    Plan.objects.filter(licenses__agency=cast.agency).update(seats=2)
    second = member(cast.agency, Role.OFFICER, "otto")
    invitation = invitation_create(admin=cast.admin, email="new@example.org", role=Role.OFFICER)
    with pytest.raises(ServiceError) as refused:
        invitation_accept(token=invitation.token, username="newbie", password="a-long-good-passphrase")
    assert refused.value.code == "no_seat_left"
    member_update(admin=cast.admin, user=second, active=False)
    invitation_accept(token=invitation.token, username="newbie", password="a-long-good-passphrase")
    with pytest.raises(ServiceError):
        member_update(admin=cast.admin, user=second, active=True)


@pytest.mark.django_db(transaction=True)
def test_overage_is_billed_once_when_a_search_task_runs_again(cast) -> None:
    Plan.objects.filter(licenses__agency=cast.agency).update(
        monthly_search_quota=1, overage_policy=OveragePolicy.BILL, overage_price=Decimal("4.00"),
        storage_price_per_1000_faces=Decimal("0"))
    enroll_people(GalleryFactory(agency=cast.agency), count=2)
    case = assigned_case(cast.agency, cast.officer)
    searches = [Search.objects.create(agency=cast.agency, case=case, requested_by=cast.officer,
                                      probe=searching.jpeg_file(photos.photo("Colin_Powell", 2)),
                                      policy={"max_candidates": 10, "similarity_threshold": 0.9})
                for _ in range(3)]
    # The first search's worker stalls past the stale limit after claiming it, and its heartbeat
    # lapses (a live worker's search is never given back) ...
    slow = searching._claim(searches[0].pk)
    Search.objects.filter(pk=slow.pk).update(started_at=timezone.now() - timedelta(hours=1),
                                             claimed_by="gone-host:1:000000000000")
    searching.searches_requeue_stale()
    # ... a second delivery runs it to the end and meters it ...
    for search in searches:
        searching.search_run(search_id=search.pk)
    # ... and when the slow worker finally stores its results, it must drop them.
    face = searching.pipeline.analyze(searching.pipeline.decode(photos.photo("Colin_Powell", 2)))
    searching._store_candidates(slow, face, 0.0, "Dlib+mirror")
    assert Search.objects.get(pk=slow.pk).candidates.count() == searches[1].candidates.count()
    assert meter_search(Search.objects.get(pk=slow.pk)) is False
    assert UsageEvent.objects.filter(agency=cast.agency, kind=UsageKind.SEARCH).count() == 3
    next_month = (date.today().replace(day=1) + timedelta(days=32)).replace(day=1)
    [invoice] = [i for i in period_close(today=next_month) if i.agency_id == cast.agency.pk]
    over = invoice.lines.get(description__contains="over the quota")
    assert over.quantity == 2 and over.amount == Decimal("8.00")


def test_the_month_close_meters_the_faces_each_agency_stores(cast) -> None:
    # billing asks search through the stored_faces signal; agencies never imports search.
    enroll_people(GalleryFactory(agency=cast.agency), count=2)
    enroll_people(GalleryFactory(agency=cast.other_agency), count=1)
    next_month = (date.today().replace(day=1) + timedelta(days=32)).replace(day=1)
    period_close(today=next_month)
    storage = UsageEvent.objects.filter(kind=UsageKind.STORAGE)
    assert storage.get(agency=cast.agency).quantity == 4
    assert storage.get(agency=cast.other_agency).quantity == 2


def test_an_invoice_total_is_the_sum_of_its_lines_to_the_cent(cast) -> None:
    plan = PlanFactory(name="Odd", seats=7, annual_fee_per_seat=Decimal("1000.00"),
                       overage_policy=OveragePolicy.BILL, monthly_search_quota=10,
                       overage_price=Decimal("3.33"), storage_price_per_1000_faces=Decimal("2.50"))
    lines = invoice_lines(plan, searches=17, faces=1234)
    assert [line.amount for line in lines] == [Decimal("583.33"), Decimal("23.31"), Decimal("3.09")]
    License.objects.filter(agency=cast.agency).update(plan=plan)
    _use(cast, 17)
    invoice = period_close(today=(date.today().replace(day=1) + timedelta(days=32)).replace(day=1))
    mine = next(i for i in invoice if i.agency_id == cast.agency.pk)
    assert mine.total == sum(line.amount for line in mine.lines.all())
    assert mine.currency == "USD"


def test_the_period_rolls_over_at_month_end(cast) -> None:
    jan_31 = datetime(2026, 1, 31, 23, 59, tzinfo=UTC)
    License.objects.filter(agency=cast.agency).update(starts_on=date(2025, 12, 1),
                                                      ends_on=date(2026, 12, 31))
    meter(agency=cast.agency, kind=UsageKind.SEARCH, key="late-january", day=jan_31.date())
    meter(agency=cast.agency, kind=UsageKind.SEARCH, key="early-february", day=date(2026, 2, 1))
    january = next(i for i in period_close(today=date(2026, 2, 1)) if i.agency_id == cast.agency.pk)
    assert january.period == date(2026, 1, 1)
    again = next(i for i in period_close(today=date(2026, 2, 1)) if i.agency_id == cast.agency.pk)
    assert again.pk == january.pk  # the close can run twice: one invoice per month
    february = next(i for i in period_close(today=date(2026, 3, 1)) if i.agency_id == cast.agency.pk)
    assert february.period == date(2026, 2, 1)
    assert UsageEvent.objects.get(key="early-february").period == date(2026, 2, 1)
    assert Invoice.objects.filter(agency=cast.agency).count() == 2


def test_the_operator_api_manages_licenses(cast, operator) -> None:
    client = api_client(operator)
    license_id = _license(cast).pk
    body = client.get(f"/api/v1/platform/licenses/{license_id}/").json()
    assert {"id", "agency", "plan", "starts_on", "ends_on", "status"} <= set(body)
    response = client.patch(f"/api/v1/platform/licenses/{license_id}/",
                            {"status": "suspended", "suspension_reason": "audit"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "suspended"
    assert _search_api(cast).json()["code"] == "license_suspended"
    assert api_client(cast.admin).get("/api/v1/platform/licenses/").status_code == 403
    created = client.post("/api/v1/platform/agencies/", {"name": "Acme", "slug": "acme",
                                                          "kind": "private_company", "country": "US"})
    assert created.status_code == 403 and created.json()["code"] == "not_eligible"

    # Letters that upper-case into more letters ("ß" is "SS") would overflow the code columns:
    # a 400 that names the field, not a database error (found by the API fuzzer).
    for field, value, code in (("country", "ßß", "invalid_country"),
                               ("region", "ßßß", "invalid_region"), ("country", "U1", "invalid_country")):
        bad = client.post("/api/v1/platform/agencies/", {"name": "Fresno PD", "slug": "fresno-pd",
                                                         "kind": "law_enforcement", "country": "US",
                                                         field: value})
        assert bad.status_code == 400 and bad.json()["code"] == code, (value, bad.content)


def test_the_agency_admin_reads_usage_and_invoices_of_their_agency_only(cast) -> None:
    _use(cast, 2)
    usage = api_client(cast.admin).get("/api/v1/usage/").json()
    assert usage["searches"] == 2 and usage["quota"] == 500
    assert api_client(cast.officer).get("/api/v1/usage/").status_code == 403
    period_close(today=(date.today().replace(day=1) + timedelta(days=32)).replace(day=1))
    mine = Invoice.objects.get(agency=cast.agency)
    theirs = Invoice.objects.get(agency=cast.other_agency)
    client = api_client(cast.admin)
    assert [i["id"] for i in client.get("/api/v1/invoices/").json()["results"]] == [mine.pk]
    assert client.get(f"/api/v1/invoices/{theirs.pk}/").status_code == 404
    pdf = client.get(f"/api/v1/invoices/{mine.pk}/pdf/")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert mine.number in text and str(mine.total) in text
    csv_text = client.get(f"/api/v1/invoices/{mine.pk}/csv/").content.decode()
    assert csv_text.splitlines()[-1].endswith(f"TOTAL,,,{mine.total},USD")
    assert timezone.now()


def test_the_quota_the_usage_figures_and_the_invoice_count_metered_units_alike(cast) -> None:
    # One event may meter several units; each reader of the month's searches counts units.
    Plan.objects.filter(licenses__agency=cast.agency).update(monthly_search_quota=3,
                                                            overage_policy=OveragePolicy.BILL)
    meter(agency=cast.agency, kind=UsageKind.SEARCH, key="test:bulk", day=date.today(), quantity=4)
    assert api_client(cast.admin).get("/api/v1/usage/").json()["searches"] == 4
    assert any("used up (4 of 3)" in w for w in license_warnings(cast.agency))
    Plan.objects.filter(licenses__agency=cast.agency).update(overage_policy=OveragePolicy.REFUSE)
    assert _search_api(cast).json()["code"] == "quota_exceeded"
    Plan.objects.filter(licenses__agency=cast.agency).update(overage_policy=OveragePolicy.BILL)
    period_close(today=(date.today().replace(day=1) + timedelta(days=32)).replace(day=1))
    lines = Invoice.objects.get(agency=cast.agency).lines.values_list("description", flat=True)
    assert any(line.startswith("1 searches over the quota of 3") for line in lines)

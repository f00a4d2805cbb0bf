"""Retention and policy numbers stay within sane bounds everywhere they are set, and the daily
purge of one agency cannot be stopped by another agency's bad value."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from agencies.audit.models import AuditAction, AuditEvent, AuditOutcome
from agencies.tenancy.permissions import SYSTEM
from search.models import Gallery, RetentionPolicy, Search, SearchPolicy
from search.services.enrollment import face_enroll
from search.tasks import purge_expired
from tests import photos
from tests.factories import AgencyFactory, GalleryFactory, assigned_case
from tests.fixtures import api_client, wait_for, web_client


def test_the_api_refuses_retention_beyond_three_years_with_the_fields_message(cast) -> None:
    client = api_client(cast.admin)
    for value in (800000, 1096, 0, -1):
        response = client.patch("/api/v1/retention/", {"probe_max_days": value}, format="json")
        assert response.status_code == 400, (value, response.content)
        assert response.json()["code"] == "invalid"
        assert response.json()["errors"]["probe_max_days"], value
    response = client.patch("/api/v1/retention/", {"unconfirmed_candidate_days": 5000}, format="json")
    assert "1095" in response.json()["errors"]["unconfirmed_candidate_days"][0]
    assert not RetentionPolicy.objects.exists()
    assert client.patch("/api/v1/retention/", {"probe_max_days": 1095}, format="json").status_code == 200


def test_the_page_refuses_retention_beyond_three_years(cast) -> None:
    client = web_client(cast.admin)
    page = client.get("/retention/").content.decode()
    assert 'max="1095"' in page and "From 1 to 1095 days." in page
    response = client.post("/retention/", {"probe_days_after_close": 90, "probe_max_days": 800000,
                                            "unconfirmed_candidate_days": 365})
    assert response.status_code == 200
    assert "less than or equal to 1095" in response.content.decode()
    assert not RetentionPolicy.objects.exists()


def test_the_policy_refuses_numbers_outside_its_bounds(cast) -> None:
    client = api_client(cast.admin)
    for field, value in (("max_candidates", 51), ("max_candidates", 0), ("target_false_match_rate", "NaN"),
                         ("target_false_match_rate", "Infinity"), ("target_false_match_rate", 0.2),
                         ("authorization_days", 366), ("authorization_days", 0)):
        response = client.patch("/api/v1/policy/", {field: value}, format="multipart")
        assert response.status_code == 400, (field, value, response.content)
        assert response.json()["errors"][field], (field, value)
    assert not SearchPolicy.objects.exists()
    page = web_client(cast.admin).post("/policy/", {
        "allowed_offences": ["robbery"], "max_candidates": 10, "target_false_match_rate": "nan",
        "authorization_days": 30})
    assert page.status_code == 200 and not SearchPolicy.objects.exists()


def _old_search(agency, officer) -> Search:
    case = assigned_case(agency, officer)
    search = Search.objects.create(agency=agency, case=case, requested_by=officer, probe="")
    Search.objects.filter(pk=search.pk).update(created_at=timezone.now() - timedelta(days=4 * 365))
    return search


def test_one_agencys_failing_purge_stops_no_other_agency(cast) -> None:
    # Written straight into the database, past every validator: "Aardvark" is purged first and
    # its cutoff date would lie before year 1 (OverflowError); "Abbey"'s gallery expiry overflows
    # in Postgres (timestamp out of range).
    overflowing = AgencyFactory(slug="aardvark", name="Aardvark Police")
    RetentionPolicy.objects.create(agency=overflowing)
    RetentionPolicy.objects.filter(agency=overflowing).update(probe_max_days=800000)
    out_of_range = AgencyFactory(slug="abbey", name="Abbey Police")
    gallery = GalleryFactory(agency=out_of_range, name="Abbey bookings")
    face_enroll(actor=SYSTEM, gallery=gallery, subject_reference="x", image=photos.photo("Colin_Powell", 0))
    Gallery.objects.filter(pk=gallery.pk).update(retention_days=2_000_000_000)
    search = _old_search(cast.agency, cast.officer)

    call_command("purge_expired")

    search.refresh_from_db()
    assert search.probe_purged_at is not None  # North, after both failures, was purged
    failures = AuditEvent.objects.filter(action=AuditAction.PURGE, outcome=AuditOutcome.FAILURE)
    assert {e.agency.slug for e in failures} == {"aardvark", "abbey"}
    assert AuditEvent.objects.get(action=AuditAction.PURGE, agency=cast.agency).outcome == (
        AuditOutcome.SUCCESS)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_daily_task_on_a_real_worker_purges_past_a_failing_agency(cast, celery_worker) -> None:
    overflowing = AgencyFactory(slug="aardvark", name="Aardvark Police")
    RetentionPolicy.objects.create(agency=overflowing)
    RetentionPolicy.objects.filter(agency=overflowing).update(probe_max_days=800000)
    search = _old_search(cast.agency, cast.officer)
    purge_expired.delay()
    wait_for(lambda: Search.objects.filter(pk=search.pk, probe_purged_at__isnull=False).exists())
    assert AuditEvent.objects.get(action=AuditAction.PURGE, agency=overflowing).outcome == (
        AuditOutcome.FAILURE)

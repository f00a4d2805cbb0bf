"""A queued search is re-checked when claimed, the account that asked for it too: disabled,
untrained or no longer an investigator, its search does not run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.tenancy.models import Membership, Role
from search.models import SearchStatus
from search.services import searching
from tests import photos
from tests.factories import GalleryFactory, assigned_case
from tests.fixtures import enroll_people


@pytest.mark.parametrize("change", ["disabled", "training_lapsed", "now_auditor"])
def test_a_search_queued_by_an_account_that_may_no_longer_search_does_not_run(cast, change) -> None:
    enroll_people(GalleryFactory(agency=cast.agency, name="North bookings"), count=1)
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0101",
                         decided_by=cast.supervisor)
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Ariel_Sharon", 2))
    if change == "disabled":
        type(cast.officer).objects.filter(pk=cast.officer.pk).update(is_active=False)
    elif change == "training_lapsed":
        Membership.objects.filter(user=cast.officer).update(
            training_valid_until=timezone.now().date() - timedelta(days=1))
    else:
        Membership.objects.filter(user=cast.officer).update(role=Role.AUDITOR)
    searching.search_run(search_id=search.pk)  # what the worker does when it claims the search
    search.refresh_from_db()
    assert search.status == SearchStatus.FAILED, (change, search.status)

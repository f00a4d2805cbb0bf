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


def test_results_are_not_stored_when_the_case_closes_while_the_model_runs(cast) -> None:
    from search.engine import pipeline
    from search.engine.pipeline import Pick
    from search.models import Candidate, Case, CaseStatus

    enroll_people(GalleryFactory(agency=cast.agency, name="North bookings"), count=2)
    case = assigned_case(cast.agency, cast.officer, case_number="2026-0102",
                         decided_by=cast.supervisor)
    search = searching.search_create(case=case, user=cast.officer,
                                     probe=photos.photo("Ariel_Sharon", 2))
    claimed = searching._claim(search.pk)  # the worker has claimed it and runs the model ...
    assert claimed is not None
    face = pipeline.analyze(pipeline.decode(photos.photo("Ariel_Sharon", 2)), pick=Pick.LARGEST)
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.CLOSED)  # ... when the case closes
    searching._store_candidates(claimed, face, 0.0, "Dlib+mirror")
    search.refresh_from_db()
    assert (search.status, search.error_code) == (SearchStatus.FAILED, "case_closed")
    assert not Candidate.objects.filter(search=search).exists()

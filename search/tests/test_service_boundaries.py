"""Services that write check, at their own boundary, that the actor acts for the object's agency:
a caller that skipped the view's checks (a task, a script, a new view) is still refused."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from agencies.tenancy.permissions import SYSTEM
from portal.errors import ServiceError
from search.models import Case, Face, Gallery, LegalBasis
from search.services import cases, enrollment, searching
from tests import photos
from tests.factories import CaseFactory, GalleryFactory, assigned_case

NEW_CASE = {"case_number": "2026-0999", "offence_category": "robbery",
            "justification": "Armed robbery, CCTV still of the suspect."}


def _refused(error: pytest.ExceptionInfo[ServiceError], code: str) -> None:
    assert error.value.status == 403 and error.value.code == code


def test_it_refuses_to_open_a_case_for_another_agency(cast) -> None:
    with pytest.raises(ServiceError) as error:
        cases.case_open(agency=cast.agency, actor=cast.other_officer, **NEW_CASE)
    _refused(error, "investigator_role_required")
    assert not Case.objects.filter(case_number=NEW_CASE["case_number"]).exists()
    opened = cases.case_open(agency=cast.agency, actor=cast.officer, **NEW_CASE)
    assert opened.agency == cast.agency


def test_it_refuses_to_create_a_gallery_for_another_agency_or_role(cast) -> None:
    for actor in (cast.other_admin, cast.officer):
        with pytest.raises(ServiceError) as error:
            enrollment.gallery_create(agency=cast.agency, actor=actor, name="Theirs",
                                      source="x", legal_basis=LegalBasis.ARREST_RECORD)
        _refused(error, "agency_admin_required")
    assert not Gallery.objects.filter(name="Theirs").exists()


def test_it_refuses_to_enroll_into_another_agencys_gallery(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    with pytest.raises(ServiceError) as error:
        enrollment.face_enroll(gallery=gallery, subject_reference="X", actor=cast.other_admin,
                               image=photos.photo("Colin_Powell", 0))
    _refused(error, "agency_admin_required")
    assert not Face.all_objects.filter(gallery=gallery).exists()


def test_the_system_actor_enrolls_for_the_operators_commands(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    face = enrollment.face_enroll(gallery=gallery, subject_reference="X", actor=SYSTEM,
                                  image=photos.photo("Colin_Powell", 0))
    assert face.agency == cast.agency and face.enrolled_by is None


def test_it_refuses_to_close_another_agencys_case(cast) -> None:
    case = CaseFactory(agency=cast.agency, opened_by=cast.officer)
    with pytest.raises(ServiceError) as error:
        cases.case_close(case=case, actor=cast.other_officer)
    _refused(error, "not_allowed")
    case.refresh_from_db()
    assert case.closed_at is None


def test_a_permission_granted_across_agencies_does_not_let_a_search_start(cast) -> None:
    # An insider writes the object permission directly, past case_assign's agency check.
    case = assigned_case(cast.agency, cast.officer)
    assign_perm(cases.SEARCH_PERMISSION, cast.other_officer, case)
    with pytest.raises(ServiceError) as error:
        searching.search_create(case=case, user=cast.other_officer,
                                probe=photos.photo("Colin_Powell", 1))
    _refused(error, "investigator_role_required")
    assert not case.searches.exists()

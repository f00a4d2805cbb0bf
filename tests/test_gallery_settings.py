"""The agency admin's gallery settings page: saved through the audited service, refused with a
message where the law or the form says no, closed to other roles and other agencies."""

from __future__ import annotations

from agencies.audit.models import AuditAction, AuditEvent
from search.models import Gallery, LegalBasis
from tests.factories import GalleryFactory
from tests.fixtures import api_client, enroll_people, web_client

SETTINGS = {"name": "North archive", "source": "County archive 1990-2020",
            "legal_basis": LegalBasis.OTHER_STATUTE, "honours_opt_outs": "on",
            "retention_days": "3650"}


def _events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.GALLERY_CHANGED).order_by("seq"))


def test_the_admin_changes_a_gallerys_settings_and_the_change_is_audited(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency, name="North bookings",
                             legal_basis=LegalBasis.ARREST_RECORD)
    client = web_client(cast.admin)
    form = client.get(f"/galleries/{gallery.pk}/settings/")
    assert form.status_code == 200 and "Settings of North bookings" in form.content.decode()
    response = client.post(f"/galleries/{gallery.pk}/settings/", SETTINGS, follow=True)
    page = response.content.decode()
    assert "Settings of North archive are saved." in page and "3650 days" in page
    gallery.refresh_from_db()
    assert (gallery.name, gallery.legal_basis, gallery.honours_opt_outs, gallery.retention_days) == (
        "North archive", LegalBasis.OTHER_STATUTE, True, 3650)
    (event,) = _events()
    assert event.actor == cast.admin and event.agency == cast.agency
    assert event.object_id == str(gallery.pk)
    assert event.details["before"]["name"] == "North bookings"
    assert event.details["before"]["legal_basis"] == LegalBasis.ARREST_RECORD
    assert event.details["after"] == {"name": "North archive", "source": SETTINGS["source"],
                                      "legal_basis": "other_statute", "honours_opt_outs": True,
                                      "retention_days": 3650}


def test_only_an_other_statute_gallery_may_honour_opt_outs(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency, name="Warrants", legal_basis=LegalBasis.WARRANT)
    response = web_client(cast.admin).post(f"/galleries/{gallery.pk}/settings/",
                                           {**SETTINGS, "legal_basis": LegalBasis.WARRANT})
    assert response.status_code == 400
    assert "Only a gallery held under another statutory basis may honour opt-outs" in \
        response.content.decode()
    gallery.refresh_from_db()
    assert not gallery.honours_opt_outs and gallery.name == "Warrants" and not _events()


def test_bad_values_are_refused_with_messages_and_nothing_changes(cast) -> None:
    GalleryFactory(agency=cast.agency, name="Taken")
    gallery = GalleryFactory(agency=cast.agency, name="Mine")
    client = web_client(cast.admin)
    bad = client.post(f"/galleries/{gallery.pk}/settings/",
                      {**SETTINGS, "retention_days": "0", "legal_basis": "hunch", "source": ""})
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "Ensure this value is greater than or equal to 1" in page
    assert "Select a valid choice" in page and "This field is required" in page
    taken = client.post(f"/galleries/{gallery.pk}/settings/", {**SETTINGS, "name": "Taken"})
    assert taken.status_code == 400
    assert "already has a gallery named Taken" in taken.content.decode()
    gallery.refresh_from_db()
    assert gallery.name == "Mine" and not _events()


def test_other_roles_get_403_and_another_agency_404(cast) -> None:
    gallery = GalleryFactory(agency=cast.agency, name="North bookings")
    for user in (cast.officer, cast.supervisor, cast.auditor):
        assert web_client(user).post(f"/galleries/{gallery.pk}/settings/",
                                     SETTINGS).status_code == 403
    foreign = web_client(cast.other_admin)
    assert foreign.get(f"/galleries/{gallery.pk}/settings/").status_code == 404
    assert foreign.post(f"/galleries/{gallery.pk}/settings/", SETTINGS).status_code == 404
    # The API has no way around the page: galleries are not updatable there.
    api = api_client(cast.admin)
    assert api.patch(f"/api/v1/galleries/{gallery.pk}/", {"honours_opt_outs": True},
                     format="json").status_code == 405
    gallery.refresh_from_db()
    assert gallery.name == "North bookings" and not _events()
    assert Gallery.objects.filter(name="North archive").count() == 0


def test_a_gallery_holding_faces_keeps_its_legal_basis(cast) -> None:
    """Else an admin could move a gallery out of reach of public opt-outs after enrolling."""
    gallery = GalleryFactory(agency=cast.agency, name="Register",
                             legal_basis=LegalBasis.OTHER_STATUTE, honours_opt_outs=True)
    enroll_people(gallery, count=1)
    client = web_client(cast.admin)
    moved = client.post(f"/galleries/{gallery.pk}/settings/",
                        {**SETTINGS, "name": "Register", "legal_basis": LegalBasis.WARRANT,
                         "honours_opt_outs": ""})
    assert moved.status_code == 400
    assert "cannot change: they were enrolled under it" in moved.content.decode()
    gallery.refresh_from_db()
    assert gallery.legal_basis == LegalBasis.OTHER_STATUTE and gallery.honours_opt_outs
    renamed = client.post(f"/galleries/{gallery.pk}/settings/",
                          {**SETTINGS, "name": "Register 2", "retention_days": ""}, follow=True)
    assert "Settings of Register 2 are saved." in renamed.content.decode()
    gallery.refresh_from_db()
    assert gallery.retention_days is None and [e.details["after"] for e in _events()] == [
        {"name": "Register 2", "source": SETTINGS["source"]}]

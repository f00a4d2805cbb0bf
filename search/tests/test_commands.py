"""The operational commands: enroll_folder and seed_demo, on the bundled photos."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command

from agencies.tenancy.models import Agency, Membership
from search.models import Case, CaseStatus, Face, Gallery
from tests import photos
from tests.factories import GalleryFactory


def test_enroll_folder_enrolls_each_photo_once_and_reports_bad_files(cast, tmp_path: Path) -> None:
    gallery = GalleryFactory(agency=cast.agency)
    root = tmp_path / "batch"
    for name in photos.people()[:2]:
        shutil.copytree(photos.FIXTURES / name, root / name)
    (root / "Broken_Person").mkdir()
    (root / "Broken_Person" / "scan.jpg").write_bytes(b"not really a jpeg")
    err = io.StringIO()
    report = tmp_path / "errors.csv"
    call_command("enroll_folder", str(gallery.pk), str(root), "--report", str(report),
                 stdout=io.StringIO(), stderr=err)
    assert Face.objects.filter(gallery=gallery).count() == 6
    assert "not_an_image" in err.getvalue()
    assert "scan.jpg" in report.read_text()
    out = io.StringIO()
    call_command("enroll_folder", str(gallery.pk), str(root), stdout=out, stderr=io.StringIO())
    assert "enrolled 0, already enrolled 6, failed 1" in out.getvalue()
    assert Face.objects.filter(gallery=gallery).count() == 6


@pytest.mark.django_db
def test_seed_demo_is_idempotent() -> None:
    call_command("seed_demo", stdout=io.StringIO())
    counts = (Agency.objects.count(), Membership.objects.count(), Face.objects.count())
    call_command("seed_demo", stdout=io.StringIO())
    assert (Agency.objects.count(), Membership.objects.count(), Face.objects.count()) == counts
    assert counts == (2, 6, 60)
    demo_case = Case.objects.get(agency__slug="demo")
    assert demo_case.status == CaseStatus.APPROVED
    assert Gallery.objects.filter(agency__slug="other").get().faces.count() == 30

"""manage.py enroll_folder GALLERY DIR: enroll a tree of Person_Name/photo.jpg into a gallery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from agencies.audit.bypass import PlatformCommand
from agencies.tenancy.permissions import SYSTEM
from portal.csv_export import csv_writer
from search.models import Gallery
from search.services.bulk import folder_enroll, image_files


class Command(PlatformCommand):
    help = "Enroll every Person_Name/photo.jpg under DIR into GALLERY (id or name). Re-runnable."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("gallery", help="Gallery id, or its exact name")
        parser.add_argument("directory", type=Path)
        parser.add_argument("--agency", help="Agency slug, when the gallery is given by name")
        parser.add_argument("--report", type=Path, help="Write failures to this CSV file")

    def handle(self, *args: Any, **options: Any) -> None:
        gallery = _find_gallery(options["gallery"], options.get("agency"))
        root: Path = options["directory"]
        if not root.is_dir():
            raise CommandError(f"{root} is not a folder")
        files = image_files(root)
        with tqdm(total=len(files), unit="photo", disable=None) as bar:
            report = folder_enroll(actor=SYSTEM, gallery=gallery, root=root, files=files,
                                   on_file=lambda _: bar.update())
        for path, code, message in report.failed:
            self.stderr.write(f"FAILED {path}: {code}: {message}")
        if options.get("report"):
            with options["report"].open("w", newline="") as handle:
                writer = csv_writer(handle)
                writer.writerow(["file", "code", "message"])
                writer.writerows(report.failed)
        self.stdout.write(f"enrolled {report.enrolled}, already enrolled {report.skipped}, "
                          f"failed {len(report.failed)} (gallery {gallery.pk}: {gallery.name})")


def _find_gallery(key: str, agency_slug: str | None) -> Gallery:
    galleries = Gallery.objects.all()  # an operator's command: it names the gallery explicitly
    if agency_slug:
        galleries = galleries.filter(agency__slug=agency_slug)
    found = galleries.filter(pk=int(key)) if key.isdigit() else galleries.filter(name=key)
    if found.count() != 1:
        raise CommandError(f"No single gallery matches {key!r}; give its id or --agency.")
    return found.get()

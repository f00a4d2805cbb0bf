"""Enrolling a folder tree `Person_Name/photo.jpg`, one subject per folder, idempotently."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portal.errors import ServiceError
from search.models import Gallery
from search.services.cohorts import cohorts_refresh_later
from search.services.enrollment import face_enroll

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


@dataclass
class EnrollReport:
    enrolled: int = 0
    skipped: int = 0
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (file, code, message)


def image_files(root: Path) -> list[Path]:
    """Photos one folder below `root`, in a stable order."""
    return sorted(p for p in root.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)


def folder_enroll(*, gallery: Gallery, root: Path, files: Iterable[Path] | None = None,
                  actor: Any, on_file: Callable[[Path], None] | None = None) -> EnrollReport:
    """Enroll each photo under its folder's subject; a photo enrolled before is skipped.

    The photo itself is its identity for re-runs (`Face.source_sha256`), whatever its path.
    A bad file fails alone, with its reason.
    """
    report = EnrollReport()
    for path in files if files is not None else image_files(root):
        _enroll_one(gallery, path, f"{root.name}/{path.relative_to(root)}", actor, report)
        if on_file:
            on_file(path)
    if report.enrolled:
        cohorts_refresh_later({gallery.agency_id})
    return report


def _enroll_one(gallery: Gallery, path: Path, provenance: str, actor: Any,
                report: EnrollReport) -> None:
    person = path.parent.name
    try:
        face_enroll(gallery=gallery, subject_reference=person, image=path.read_bytes(),
                    actor=actor, display_name=person.replace("_", " "), provenance=provenance)
    except ServiceError as exc:
        if exc.code == "already_enrolled":
            report.skipped += 1
        else:
            report.failed.append((str(path), exc.code, exc.message))
    except OSError as exc:
        report.failed.append((str(path), "unreadable", str(exc)))
    else:
        report.enrolled += 1

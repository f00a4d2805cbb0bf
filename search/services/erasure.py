"""Removing faces for good: their files, their rows, and a redaction note on past results.

One mechanism serves the public opt-out, court-ordered erasure and the retention purge, so a
removed face disappears the same way whatever removed it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from search.models import Candidate, Face, Subject
from search.services.cohorts import cohorts_refresh_later


def faces_remove(faces: QuerySet[Face], *, reason: str) -> tuple[Counter[int], int]:
    """Delete faces with their image files (chip and kept photo); keep past candidates, redacted
    with `reason`.

    Returns the faces removed per agency id and the number of candidates redacted. Subjects
    left without any face are deleted too: a name with no face has no purpose here.
    """
    doomed = list(faces.select_related("subject"))
    ids = [face.pk for face in doomed]
    redacted = Candidate.objects.filter(face_id__in=ids).update(face=None, redacted=reason)
    subjects = {face.subject_id for face in doomed}
    files = [file for face in doomed for file in (face.image, face.source_image)]
    Face.all_objects.filter(pk__in=ids).delete()  # soft-removed faces too
    Subject.objects.filter(pk__in=subjects, faces__isnull=True).delete()
    transaction.on_commit(lambda: _delete_files(files))  # only once the rows are surely gone
    removed = Counter(face.agency_id for face in doomed)
    cohorts_refresh_later(set(removed))  # their neighbours' cohorts may have changed
    return removed, redacted


def _delete_files(files: list[Any]) -> None:
    for file in files:
        if file:
            file.storage.delete(file.name)

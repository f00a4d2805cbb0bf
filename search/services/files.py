"""Stored images get server-made names; nothing of the uploader's file name or metadata survives."""

from __future__ import annotations

import uuid

from django.core.files.base import ContentFile


def jpeg_file(data: bytes) -> ContentFile[bytes]:
    """Wrap re-encoded JPEG bytes under a random name."""
    return ContentFile(data, name=f"{uuid.uuid4().hex}.jpg")

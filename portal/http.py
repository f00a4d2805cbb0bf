"""Small HTTP helpers shared by every download."""

from django.http import HttpResponse


def attachment(body: bytes | str, *, content_type: str, filename: str) -> HttpResponse:
    """A download that no shared cache keeps (reports and invoices are confidential)."""
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response

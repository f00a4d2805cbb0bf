"""Search's answers to the agencies app's questions, connected when the app is ready."""

from typing import Any

from django.dispatch import receiver

from agencies.billing.metering import stored_faces
from agencies.tenancy.models import Agency
from search.models import Face


@receiver(stored_faces, dispatch_uid="search.faces_stored")
def faces_stored(sender: Any, *, agency: Agency, **kwargs: Any) -> int:
    """How many faces the agency stores, metered when its month closes."""
    return Face.objects.for_agency(agency).count()

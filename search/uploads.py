"""Reading an uploaded file without trusting its size, name or declared type."""

from django.core.files.uploadedfile import UploadedFile

from portal.config import setting
from search.engine.pipeline import ImageRejected


def read_upload(upload: UploadedFile) -> bytes:
    """The upload's bytes, refusing (before reading it all) anything over the size limit."""
    limit: int = setting("MAX_UPLOAD_BYTES")
    if upload.size is not None and upload.size > limit:
        raise ImageRejected("image_too_large", f"The file is {upload.size / 1e6:.1f} MB; the "
                            f"limit is {limit / 1e6:.0f} MB. Upload a smaller export of the photo.",
                            status=413)
    return upload.read(limit + 1)

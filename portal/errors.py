"""The one error type services raise for refusals a person must read and act on."""

from django.http import Http404


class ServiceError(Exception):
    """A refusal with a stable machine code, a readable message and the HTTP status it maps to."""

    status = 400

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        if status is not None:
            self.status = status


class NotFound(ServiceError, Http404):
    """A missing or another agency's object: the API answers its code and message with 404, and
    a page that does not catch it answers Django's 404, like any missing object."""

    status = 404

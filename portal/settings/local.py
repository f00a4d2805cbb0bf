"""Development settings: `make run`. Never use these on a server."""

import os

from .base import *  # noqa: F403

DEBUG = True
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-casebound")  # noqa: S105
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# The demo seed may create users only where this flag is on.
CASEBOUND_DEMO_ENABLED = True
CASEBOUND_DEMO_PASSWORD = os.environ.get("CASEBOUND_DEMO_PASSWORD", "casebound-demo-2026")
# Base32 TOTP secret shared by the demo users, so a demo can be signed in from one authenticator.
CASEBOUND_DEMO_TOTP_SECRET = os.environ.get("CASEBOUND_DEMO_TOTP_SECRET",
                                            "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
# Mail (opt-out confirmation links, invitations) is printed, so `make run` works offline.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

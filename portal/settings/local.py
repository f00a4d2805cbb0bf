"""Settings of `make run` (gunicorn, DEBUG off) and `make dev` (runserver, CASEBOUND_DEBUG=1) on
127.0.0.1 over plain http, with the demo. Never use these on a server."""

import os

from portal.logs import logging_config

from .base import *  # noqa: F403

# Off unless asked: DEBUG pages show settings and the URL map to whoever mistypes an address.
DEBUG = os.environ.get("CASEBOUND_DEBUG") == "1"
if DEBUG:
    # runserver and whitenoise's finders serve the files as edited; no collectstatic needed.
    STORAGES = {**STORAGES,  # noqa: F405
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# Production's headers that hold over plain http come from base.py (nosniff, referrer policy,
# frame denial, CSP); its https-only ones (SSL redirect, HSTS, secure cookies) would lock us out.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only-insecure-key-casebound")  # noqa: S105
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# `make run` logs JSON lines as production does; `make dev` readable ones unless told otherwise.
if DEBUG and "CASEBOUND_LOG_FORMAT" not in os.environ:
    LOGGING = logging_config(json=False, level=LOG_LEVEL)  # noqa: F405
# The demo seed may create users only where this flag is on.
CASEBOUND_DEMO_ENABLED = True
CASEBOUND_DEMO_PASSWORD = os.environ.get("CASEBOUND_DEMO_PASSWORD", "casebound-demo-2026")
# Base32 TOTP secret shared by the demo users, so a demo can be signed in from one authenticator.
CASEBOUND_DEMO_TOTP_SECRET = os.environ.get("CASEBOUND_DEMO_TOTP_SECRET",
                                            "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
# Invitation e-mails are written as files under var/mail/, so the demo works offline.
EMAIL_BACKEND = os.environ.get("CASEBOUND_EMAIL_BACKEND",
                               "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"  # noqa: F405

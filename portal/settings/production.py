"""Production settings: everything from the environment; refuse to start without a secret."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CASEBOUND

SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
DEBUG = False
CASEBOUND_DEMO_ENABLED = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Mailed links (invitations, opt-out confirmations) are built on this address, never on a Host
# header: without it they would point at localhost.
if not os.environ.get("CASEBOUND_SITE_URL", "").startswith("https://"):
    raise ImproperlyConfigured("Set CASEBOUND_SITE_URL to the portal's https:// address; mailed "
                               "invitation and confirmation links are built on it.")

# The audit checkpoints are what shows a rewrite by the database's owner: no key, no start.
if not (os.environ.get("CASEBOUND_AUDIT_SIGNING_KEY") or CASEBOUND["AUDIT_SIGNING_KEY_FILE"].exists()):
    raise ImproperlyConfigured(
        f"No audit signing key: create {CASEBOUND['AUDIT_SIGNING_KEY_FILE']} (mode 0600) or set "
        "CASEBOUND_AUDIT_SIGNING_KEY; see docs/security.md, audit checkpoints.")

"""Test settings: the real Postgres, Redis and model, with fast password hashing."""

import os
from pathlib import Path

from .local import *  # noqa: F403
from .local import CASEBOUND, CELERY_TASK_ROUTES, VAR_DIR

DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# CASEBOUND_MEDIA_ROOT: a second installation in the backup round trip (tests/test_backup_restore.py).
PRIVATE_MEDIA_ROOT = Path(os.environ.get("CASEBOUND_MEDIA_ROOT", VAR_DIR / "test-media"))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA_ROOT, "base_url": None},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# A stale search is re-queued quickly in tests so the sweeper can be exercised.
CASEBOUND["SEARCH_STALE_SECONDS"] = 5
# Test tasks go to their own queue, so a `make run` worker sharing the broker never takes them.
CELERY_TASK_DEFAULT_QUEUE = "casebound-test"
CELERY_TASK_ROUTES = {task: {"queue": f"{route['queue']}-test"}
                      for task, route in CELERY_TASK_ROUTES.items()}
# The test servers serve static files from the sources (no collectstatic before a test run);
# tests/test_devservices.py serves `make run`'s collected, hashed files.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Test galleries are small: any enrollment or removal makes an agency's face cohorts stale.
CASEBOUND["COHORT_REFRESH_MIN_CHANGES"] = 1

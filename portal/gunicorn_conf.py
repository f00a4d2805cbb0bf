"""Gunicorn's settings for `make run` (`-c python:portal.gunicorn_conf`): its own lines (start,
workers booted or killed) as JSON like the portal's; the portal's request line replaces the
access log, since it carries the request id."""

import os

from portal.logs import logging_config

logconfig_dict = logging_config(json=os.environ.get("CASEBOUND_LOG_FORMAT", "json") != "console",
                                level=os.environ.get("LOG_LEVEL", "INFO"))
accesslog = None

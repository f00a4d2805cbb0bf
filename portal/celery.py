"""The Celery application; configuration lives in Django settings under CELERY_*."""

import logging.config
import os
from typing import Any

from celery import Celery
from celery.signals import (
    before_task_publish,
    celeryd_init,
    setup_logging,
    task_postrun,
    task_prerun,
)

from portal import logs, workers

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("casebound")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def use_django_logging(**kwargs: Any) -> None:
    """Workers and beat log like the web processes (JSON lines with the request id): Celery's
    own format would otherwise replace ours."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


# A task queued by a request carries its id; the worker binds it while the task runs.
before_task_publish.connect(logs.add_request_id_header, weak=False)
task_prerun.connect(logs.bind_task_context, weak=False)
task_postrun.connect(logs.clear_task_context, weak=False)


@celeryd_init.connect
def name_claims_after_the_node(sender: str, **kwargs: Any) -> None:
    """A search's `claimed_by` names the worker node (`--hostname`), on whatever machine it runs."""
    workers.node_name_set(sender)

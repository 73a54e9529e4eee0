"""The Celery app. Workers consume grade.cpu or grade.gpu (one message at a time, acks late).

No result backend: the GradingJob row is the truth. Each worker process keeps one Grader
(created on its first job, closed when the process shuts down).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_shutdown, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "courseapp.settings")

app = Celery("courseapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["courseapp"])


@worker_process_shutdown.connect
@worker_shutdown.connect
def _close_grader(**_kwargs) -> None:
    from courseapp.services.engine import close_grader

    close_grader()

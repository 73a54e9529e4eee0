"""gunicorn's settings (read from the working directory: `gunicorn courseapp.wsgi:application`).

Sized from the machine: the views hold the GIL while they run, so a process serves one request's
Python at a time, and pages stay fast when there is a process per core and one more (the one whose
request waits on Postgres). Threads cover the waits (database, Redis) inside a process. Override with
WEB_WORKERS / WEB_THREADS (or --workers / --threads on the command line, which win over this file).
"""

import os

_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", "0")) or min(_cores + 1, 16)
threads = int(os.environ.get("WEB_THREADS", "0")) or 4
# A deadline rush opens hundreds of connections at once: let them wait in the kernel, not be refused.
backlog = int(os.environ.get("WEB_BACKLOG", "2048"))

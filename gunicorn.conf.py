"""gunicorn's settings (read from the working directory: `gunicorn courseapp.wsgi:application`).

Sized from the machine: a process per core and one more (the one whose request waits on Postgres),
each serving ONE request at a time (the sync worker). The views are CPU-bound Python: threads in one
process only take turns at the GIL, and a threaded process accepts connections whether or not it is
free, so a busy one queues requests that an idle one could serve. With one request per process, only
a free process accepts and the kernel's queue balances them. Measured on this 2-core machine
(bench/load/webprocs.py: 30 clients on the exercise page, medians of four interleaved rounds,
bench/RESULTS.md "Web processes"): 220 pages/s, p95 176 ms against 166 pages/s, p95 315 ms with
4 threads a process.

A sync process is held for as long as its client takes to send the request and read the answer:
in production a buffering proxy stands in front (docker-compose.yml's `proxy`, deploy/nginx.conf).
WEB_THREADS > 1 selects the threaded worker instead. Override with WEB_WORKERS / WEB_THREADS (or
--workers / --threads on the command line, which win over this file).
"""

import os

_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

bind = os.environ.get("WEB_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_WORKERS", "0")) or min(_cores + 1, 16)
threads = int(os.environ.get("WEB_THREADS", "0")) or 1
worker_class = "gthread" if threads > 1 else "sync"
# A deadline rush opens hundreds of connections at once: let them wait in the kernel, not be refused.
backlog = int(os.environ.get("WEB_BACKLOG", "2048"))
# A request running longer than this is stopped and its process replaced.
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))

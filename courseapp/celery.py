"""The Celery app. Workers consume grade.cpu or grade.gpu (one message at a time, acks late); the
free-text review's tasks (courseapp/review/tasks.py) go to REVIEW_TASK_QUEUE (grade.cpu by default).

No result backend: the GradingJob row is the truth. Each worker process keeps one Grader
(created on its first job, closed when the process shuts down).
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_process_shutdown, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "courseapp.settings")

app = Celery("courseapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["courseapp", "courseapp.review"])


# False in a worker that only runs maintenance tasks (the beat service's reconciler): it grades
# nothing, so it needs no sandbox and no warm grader.
_GRADES = True


def _consumes_grading_queues(sender) -> bool:
    try:
        queues = set(sender.app.amqp.queues.consume_from or ())
    except AttributeError:
        return True
    return not queues or any(q.startswith("grade.") for q in queues)


def lower_worker_priority(nice: int) -> int:
    """Run this process at nice `nice` (0..19) or lower priority, never higher (an unprivileged
    process cannot raise it back). Absolute, so calling it twice does not add up. Returns the level."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    target = max(0, min(19, nice))
    if target > current:
        os.setpriority(os.PRIO_PROCESS, 0, target)
    return os.getpriority(os.PRIO_PROCESS, 0)


def yield_cpu_group(nice: int) -> str:
    """The nice only orders threads inside one scheduling group (an autogroup, a cpu cgroup): also
    weigh the worker's GROUP as `nice` (grader/sandbox/priority.py). Its own cpu cgroup where the host
    allows one (every process the worker starts is born inside), else its session's autogroup where it
    leads the session. Returns what it did: "cgroup", "autogroup" or "" (nothing: nice only)."""
    from grader.sandbox.priority import join_grading_cpu_cgroup, yield_own_session

    if nice <= 0:
        return ""
    if join_grading_cpu_cgroup(nice) is not None:
        return "cgroup"
    return "autogroup" if yield_own_session(nice) else ""


@worker_init.connect
def _web_first(**_kwargs) -> None:
    """The worker yields the CPU to the web (GRADING_WORKER_NICE): on a small machine pages stay fast
    while every core grades. Pool processes forked later inherit it (the cpu cgroup, the session's
    autogroup and the nice); _warm_grader re-applies the nice."""
    from django.conf import settings

    lower_worker_priority(settings.GRADING_WORKER_NICE)
    yield_cpu_group(settings.GRADING_WORKER_NICE)


@worker_init.connect
def _require_sandbox(sender=None, **_kwargs) -> None:
    """Refuse to start a worker on a host where the sandbox cannot be set up (no user namespaces,
    say), unless GRADER_INSECURE_NO_ISOLATION=1 is set (and then every result says so)."""
    global _GRADES
    from grader.engine import Grader, SandboxUnavailable

    _GRADES = _consumes_grading_queues(sender)
    if not _GRADES:
        return

    grader = Grader(device=os.environ.get("GRADER_DEVICE", "cpu"), dedicated=True)
    try:
        grader.start()
    except SandboxUnavailable as exc:
        raise SystemExit(
            f"grading worker refuses to start: the sandbox cannot be set up on this host ({exc}). "
            "It needs Linux user, mount, pid, net, ipc and uts namespaces (run as root, or with unprivileged "
            "user namespaces enabled). For development only, GRADER_INSECURE_NO_ISOLATION=1 grades without "
            "isolation and marks every result so."
        ) from None
    finally:
        grader.close()


@worker_process_init.connect
def _warm_grader(**_kwargs) -> None:
    """Start this pool process's warm executors now, not on its first job."""
    from django.conf import settings

    lower_worker_priority(settings.GRADING_WORKER_NICE)  # also under pools that do not fork from the worker
    if not _GRADES:
        return
    from courseapp.services.grader_runtime import get_grader

    try:
        get_grader().start()
    except Exception:  # noqa: BLE001 - the job itself will report infrastructure trouble and retry
        pass
    try:  # the free-text model loads once per process (seconds), not on a student's first answer
        from grader.freetext import warm_up

        warm_up()
    except Exception:  # noqa: BLE001
        pass


@worker_process_shutdown.connect
@worker_shutdown.connect
def _close_grader(**_kwargs) -> None:
    from courseapp.services.grader_runtime import close_grader

    close_grader()

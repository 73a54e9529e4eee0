"""Prometheus metrics, computed from the database at scrape time, so every web process answers
the same numbers and workers need no metrics endpoint of their own (the GradingJob and Result
rows are the truth). A scrape costs a handful of aggregate queries.

- courseapp_queue_depth{queue}                 queued jobs per Celery queue (gauge)
- courseapp_jobs_running{queue}                running jobs per queue (gauge)
- courseapp_grade_latency_seconds              submit-to-feedback time of finished jobs (histogram)
- courseapp_grading_outcomes_total{outcome}    results by outcome (ok, wrong, timeout, memory, ...)
- courseapp_sandbox_failures_total{kind}       grader/sandbox errors (result status "error") and
                                               jobs that failed outright (infrastructure)
- courseapp_gpu_memory_bytes{gpu,kind}         used/total per GPU (nvidia-smi), when there is one
"""

from __future__ import annotations

import hmac
import shutil
import subprocess

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

LATENCY_BUCKETS_S = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)


def _queue_gauges():
    from courseapp.models import GradingJob

    rows = GradingJob.objects.filter(status__in=["queued", "running"]).values("queue", "status").annotate(n=Count("id"))
    depth = GaugeMetricFamily("courseapp_queue_depth", "Grading jobs waiting, per queue", labels=["queue"])
    running = GaugeMetricFamily("courseapp_jobs_running", "Grading jobs being graded, per queue", labels=["queue"])
    seen = {
        (settings.GRADING_CPU_QUEUE, "queued"): 0,
        (settings.GRADING_GPU_QUEUE, "queued"): 0,
        (settings.GRADING_CPU_QUEUE, "running"): 0,
        (settings.GRADING_GPU_QUEUE, "running"): 0,
    }
    for row in rows:
        seen[(row["queue"], row["status"])] = row["n"]
    for (queue, status), n in sorted(seen.items()):
        (depth if status == "queued" else running).add_metric([queue], n)
    return [depth, running]


def _latency_histogram():
    from courseapp.models import GradingJob

    latency = ExpressionWrapper(F("finished_at") - F("submission__created_at"), output_field=DurationField())
    from datetime import timedelta

    aggregates = {f"le_{b}": Count("id", filter=Q(latency__lte=timedelta(seconds=b))) for b in LATENCY_BUCKETS_S}
    aggregates["count"] = Count("id")
    row = (
        GradingJob.objects.filter(status="done", finished_at__isnull=False)
        .annotate(latency=latency)
        .aggregate(**aggregates)
    )
    total_s = 0.0
    # the sum: one more aggregate (as seconds) would be backend-specific; an average from buckets is
    # not a sum, so compute it exactly from the durations (bounded by the table's size).
    from django.db.models import Sum

    s = (
        GradingJob.objects.filter(status="done", finished_at__isnull=False)
        .annotate(latency=latency)
        .aggregate(total=Sum("latency"))["total"]
    )
    if s is not None:
        total_s = s.total_seconds() if hasattr(s, "total_seconds") else float(s) / 1e6
    buckets = [(str(float(b)), row[f"le_{b}"]) for b in LATENCY_BUCKETS_S] + [("+Inf", row["count"])]
    hist = HistogramMetricFamily(
        "courseapp_grade_latency_seconds", "Time from submission to feedback, finished jobs", labels=[]
    )
    hist.add_metric([], buckets, sum_value=total_s)
    return [hist]


def _outcomes():
    from courseapp.models import GradingJob, Result

    outcomes = CounterMetricFamily("courseapp_grading_outcomes", "Grading results by outcome", labels=["outcome"])
    for row in Result.objects.values("outcome").annotate(n=Count("id")).order_by("outcome"):
        outcomes.add_metric([row["outcome"]], row["n"])
    failures = CounterMetricFamily(
        "courseapp_sandbox_failures", "Grader or sandbox errors, and jobs that could not be graded", labels=["kind"]
    )
    failures.add_metric(["grader_error"], Result.objects.filter(status="error").count())
    failures.add_metric(["job_failed"], GradingJob.objects.filter(status="failed").count())
    return [outcomes, failures]


def _gpu_memory():
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,memory.used,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gauge = GaugeMetricFamily("courseapp_gpu_memory_bytes", "GPU memory (nvidia-smi)", labels=["gpu", "kind"])
    for line in out.strip().splitlines():
        try:
            index, used, total = (x.strip() for x in line.split(","))
            gauge.add_metric([index, "used"], float(used) * 2**20)
            gauge.add_metric([index, "total"], float(total) * 2**20)
        except ValueError:
            continue
    return [gauge]


class DatabaseCollector:
    def collect(self):
        yield from _queue_gauges()
        yield from _latency_histogram()
        yield from _outcomes()
        yield from _gpu_memory()


def render_metrics() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def metrics_allowed(request: HttpRequest) -> bool:
    """Staff users, or a scraper with `Authorization: Bearer $METRICS_TOKEN` (when that is set)."""
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return HttpResponse(status=405)
    if not metrics_allowed(request):
        return HttpResponse("metrics: staff or a bearer token only\n", status=403, content_type="text/plain")
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)


def healthz_view(request: HttpRequest) -> HttpResponse:
    """Liveness + database reachability, for the compose healthcheck (no login, no data)."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001
        return HttpResponse("database unavailable\n", status=503, content_type="text/plain")
    return HttpResponse("ok\n", content_type="text/plain")


class HealthzMiddleware:
    """Answers /healthz first, before host validation and the HTTPS redirect, so a container
    healthcheck on 127.0.0.1 over plain http works whatever ALLOWED_HOSTS and HTTPS say."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz" and request.method == "GET":
            return healthz_view(request)
        return self.get_response(request)

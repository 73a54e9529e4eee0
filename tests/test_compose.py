"""docker-compose.yml and the Dockerfile agree with the settings (no Docker engine needed)."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from tests.conftest import NGINX, nginx_conf, skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("setup", "web", "worker-cpu", "worker-gpu", "beat")
# Variables the service reads: settings.py's os.environ lookups, plus the grader's own switches.
SETTINGS_ENV = set(
    re.findall(
        r"""(?:os\.environ\.get|env_bool|env_list)\(\s*["']([A-Z_]+)["']""",
        (ROOT / "courseapp" / "settings.py").read_text(),
    )
)
SETTINGS_ENV |= {"DATABASE_URL", "SECRET_KEY", "GRADER_INSECURE_NO_ISOLATION"}
# the grader's own switches: names its modules read from the environment (os.environ or an *_ENV constant)
SETTINGS_ENV |= {
    name
    for path in (ROOT / "grader").rglob("*.py")
    for name in re.findall(
        r"""(?:os\.environ\.get\(\s*|os\.environ\[\s*|_ENV\s*=\s*)["'](GRADER_[A-Z_]+)["']""", path.read_text()
    )
}
# read by `manage.py create_db_roles` (the setup job) for the grading workers' role
SETTINGS_ENV |= {"GRADER_DB_PASSWORD"}
WORKERS = ("worker-cpu", "worker-gpu")


def _cmd(service: str) -> list[str]:
    cmd = SERVICES[service]["command"]
    return cmd if isinstance(cmd, list) else cmd.split()


def test_the_expected_services_exist():
    assert {"postgres", "redis", "setup", "web", "proxy", "worker-cpu", "worker-gpu", "beat", "flower"} <= set(SERVICES)


@pytest.mark.parametrize("service", ["postgres", "redis", "web", "proxy", "worker-cpu", "worker-gpu", "beat", "flower"])
def test_long_running_services_have_healthchecks(service):
    assert SERVICES[service]["healthcheck"]["test"]


def test_data_lives_in_volumes():
    assert "pgdata" in COMPOSE["volumes"] and "redisdata" in COMPOSE["volumes"]
    assert any(v.startswith("pgdata:") for v in SERVICES["postgres"]["volumes"])
    assert any(v.startswith("redisdata:") for v in SERVICES["redis"]["volumes"])


@pytest.mark.parametrize("service, queue", [("worker-cpu", "GRADING_CPU_QUEUE"), ("worker-gpu", "GRADING_GPU_QUEUE")])
def test_workers_consume_their_queue_one_message_at_a_time(service, queue):
    cmd = _cmd(service)
    assert cmd[:4] == ["celery", "-A", "courseapp", "worker"]
    assert cmd[cmd.index("-Q") + 1] == getattr(settings, queue)
    assert cmd[cmd.index("--prefetch-multiplier") + 1] == "1"
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


def test_gpu_worker_reserves_an_nvidia_device_and_grades_on_cuda():
    gpu = SERVICES["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    # gpu exercises go to grade.gpu only when the operator says GPU workers run (the gpu profile)
    assert SERVICES["web"]["environment"]["GRADING_GPU_WORKERS"] == "${GRADING_GPU_WORKERS:-0}"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert gpu["environment"]["GRADER_DEVICE"] == "cuda"
    assert SERVICES["worker-cpu"]["environment"]["GRADER_DEVICE"] == "cpu"
    assert "TORCH_INDEX" in gpu["build"]["args"]


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_use_postgres_and_redis_and_only_known_variables(service):
    env = SERVICES[service]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert env["EXERCISES_DIR"] == "/app/exercises"
    unknown = set(env) - SETTINGS_ENV
    assert not unknown, f"{service} sets variables the settings never read: {unknown}"


def test_no_secret_is_written_in_the_file():
    text = (ROOT / "docker-compose.yml").read_text()
    for service in APP_SERVICES:
        env = SERVICES[service]["environment"]
        if service in WORKERS:
            assert "${GRADER_DB_PASSWORD:?" in env["DATABASE_URL"]
            continue
        assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]*\}", env["SECRET_KEY"])
        assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]*\}", SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"])
    assert not re.search(r"(?i)password\s*[:=]\s*[\"']?[a-z0-9]{6,}", text.replace("POSTGRES_PASSWORD", ""))


def test_services_start_in_order():
    assert SERVICES["setup"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["setup"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "migrate" in " ".join(_cmd("setup")) and "sync_exercises" in " ".join(_cmd("setup"))
    for service in ("web", "worker-cpu", "worker-gpu", "beat"):
        assert SERVICES[service]["depends_on"]["setup"]["condition"] == "service_completed_successfully"


def test_grading_containers_run_under_the_seccomp_allow_list_not_unconfined():
    import json

    for service in ("setup", "worker-cpu", "worker-gpu"):
        options = SERVICES[service]["security_opt"]
        assert "seccomp=unconfined" not in options and "no-new-privileges:true" in options
        profile = next(o.split("=", 1)[1] for o in options if o.startswith("seccomp="))
        assert json.loads((ROOT / profile).read_text())["defaultAction"] == "SCMP_ACT_ERRNO"


def test_grading_workers_get_no_secret_key_and_the_least_privilege_database_role():
    for service in WORKERS:
        env = SERVICES[service]["environment"]
        assert "SECRET_KEY" not in env, f"{service} must not hold the web's SECRET_KEY"
        assert env["DATABASE_URL"].startswith(f"postgres://{settings.GRADER_DB_ROLE}:")
    for service in ("web", "beat", "setup"):
        assert SERVICES[service]["environment"]["DATABASE_URL"].startswith("postgres://courseapp:")
    # the setup job makes the role after migrating and before anything grades
    cmd = " ".join(_cmd("setup"))
    assert cmd.index("migrate") < cmd.index("create_db_roles") < cmd.index("sync_exercises")
    assert SERVICES["setup"]["environment"]["GRADER_DB_PASSWORD"].startswith("${GRADER_DB_PASSWORD:?")


def test_only_the_gpu_worker_runs_as_root():
    for service in ("setup", "web", "worker-cpu", "beat"):
        assert SERVICES[service]["user"] == "10001:10001", service
    assert SERVICES["worker-cpu"]["cap_drop"] == ["ALL"]


def test_dockerfile_installs_the_pinned_torch_from_a_chosen_index():
    dockerfile = (ROOT / "Dockerfile").read_text()
    pin = re.search(r"^torch==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pin, "requirements.txt must pin torch exactly"
    assert re.search(r"^ARG TORCH_INDEX=", dockerfile, re.M)
    assert "grep -E '^torch==' requirements.txt" in dockerfile and '--index-url "$TORCH_INDEX"' in dockerfile
    assert "pip install -r requirements.txt" in dockerfile


def test_beat_runs_the_reconciler_on_the_maintenance_queue():
    cmd = _cmd("beat")
    assert cmd[:4] == ["celery", "-A", "courseapp", "worker"] and "--beat" in cmd
    assert cmd[cmd.index("-Q") + 1] == settings.MAINTENANCE_QUEUE
    assert cmd[cmd.index("--concurrency") + 1] == "1"
    assert "deploy" not in SERVICES["beat"]  # never scaled: one beat
    # the schedule it runs sends the reconciler to that queue
    entry = settings.CELERY_BEAT_SCHEDULE["reconcile-grading-jobs"]
    assert entry["task"] == "courseapp.reconcile_jobs" and entry["options"]["queue"] == settings.MAINTENANCE_QUEUE
    assert SERVICES["beat"]["environment"]["RECONCILE_INTERVAL_S"] == "${RECONCILE_INTERVAL_S:-30}"
    # the grading workers do not consume maintenance (a rush never delays the reconciler)
    for service in ("worker-cpu", "worker-gpu"):
        assert settings.MAINTENANCE_QUEUE not in _cmd(service)[_cmd(service).index("-Q") + 1].split(",")


def test_flower_watches_the_same_broker_behind_basic_auth():
    flower = SERVICES["flower"]
    cmd = " ".join(_cmd("flower"))
    assert "flower" in cmd and "--broker=redis://redis:6379/0" in cmd
    assert SERVICES["web"]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert re.fullmatch(r"\$\{FLOWER_BASIC_AUTH:\?[^}]*\}", flower["environment"]["FLOWER_BASIC_AUTH"])
    assert all(p.startswith("127.0.0.1:") for p in flower["ports"])
    assert "/healthcheck" in " ".join(flower["healthcheck"]["test"])


def test_web_healthcheck_uses_healthz_which_exists():
    from django.urls import reverse

    assert reverse("healthz") in " ".join(SERVICES["web"]["healthcheck"]["test"])


NGINX_CONF = (ROOT / "deploy" / "nginx.conf").read_text()


def test_the_site_is_the_buffering_proxy_in_front_of_gunicorn():
    """gunicorn's sync processes serve one request each: only nginx is published, it reads requests
    and takes answers whole (a slow client holds nginx, not gunicorn), takes the largest upload and
    appends the client to X-Forwarded-For, which web trusts for exactly this one hop."""
    from grader.notebook import MAX_NOTEBOOK_BYTES

    proxy, web = SERVICES["proxy"], SERVICES["web"]
    assert "ports" not in web and web["expose"] == ["8000"]
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    [published] = proxy["ports"]
    listen = re.search(r"^\s*listen\s+(\d+);", NGINX_CONF, re.M)
    assert listen and published == "${WEB_PORT:-8000}:" + listen.group(1)
    assert any(v.endswith(":/etc/nginx/conf.d/default.conf:ro") for v in proxy["volumes"])
    assert re.search(r"upstream courseapp_web \{\s*server web:8000;", NGINX_CONF)
    assert "proxy_pass http://courseapp_web;" in NGINX_CONF
    for on in ("proxy_request_buffering on;", "proxy_buffering on;"):
        assert on in NGINX_CONF
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in NGINX_CONF
    # a TLS terminator's X-Forwarded-Proto passes through (SECURE_PROXY_SSL_HEADER=1 deployments)
    assert "proxy_set_header X-Forwarded-Proto $forwarded_proto;" in NGINX_CONF
    assert re.search(
        r'map \$http_x_forwarded_proto \$forwarded_proto \{\s*default \$http_x_forwarded_proto;\s*"" \$scheme;',
        NGINX_CONF,
    )
    size = re.search(r"client_max_body_size (\d+)m;", NGINX_CONF)
    assert size and int(size.group(1)) * 1024 * 1024 > MAX_NOTEBOOK_BYTES
    assert web["environment"]["TRUSTED_PROXY_COUNT"] == "${TRUSTED_PROXY_COUNT:-1}"


def test_the_proxy_config_is_valid_nginx(tmp_path):
    """nginx itself reads deploy/nginx.conf (with the upstream's host name, which only resolves
    inside compose, pointed at this machine)."""
    if NGINX is None:
        skip_or_fail("nginx is not installed here (scripts/test.sh installs it)")
    conf = nginx_conf(tmp_path, "127.0.0.1:8000", "127.0.0.1:18080")
    done = subprocess.run([NGINX, "-t", "-q", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_gunicorn_serves_one_request_per_process_unless_told_otherwise(monkeypatch):
    import runpy

    monkeypatch.delenv("WEB_THREADS", raising=False)
    monkeypatch.delenv("WEB_WORKERS", raising=False)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert (conf["worker_class"], conf["threads"]) == ("sync", 1)
    assert conf["workers"] == min(len(os.sched_getaffinity(0)) + 1, 16)
    monkeypatch.setenv("WEB_THREADS", "4")
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["worker_class"] == "gthread"

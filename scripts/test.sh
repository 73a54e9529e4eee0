#!/usr/bin/env bash
# THE one test command: set up .venv, run scripts/check.sh (mypy, import contracts, ruff), make sure
# Debian's chromium is there, then run the whole pytest suite against real Postgres and Redis
# (integration and browser tests included, never skipped: COURSEAPP_REQUIRE_SERVICES=1 turns a
# missing service into a failure).
# Postgres and Redis must be running on 127.0.0.1 (.ci/run starts them).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

# Types, import contracts and lint first: a violation fails the run before any test starts.
bash scripts/check.sh

# nginx for the tests of deploy/nginx.conf (tests/test_compose.py's `nginx -t`, tests/integration/
# test_proxy.py's nginx in front of a test gunicorn, each its own process); the service is stopped.
if [ ! -x /usr/sbin/nginx ] && [ "$(id -u)" = 0 ]; then
    echo "==> installing Debian's nginx-light to check deploy/nginx.conf"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
    service nginx stop >/dev/null 2>&1 || true
fi

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "==> installing Debian's chromium for the browser tests"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "scripts/test.sh: /usr/bin/chromium is missing; run 'apt-get install -y chromium' as root" >&2
        exit 1
    fi
fi

# A database and a Redis key prefix of this run's own, so two runs on one machine (two checkouts,
# or two people in one checkout) never share a test database or a queue.
tag=$(pwd | sha256sum | cut -c1-8)_$$
export DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/courseapp_$tag}
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
export REDIS_KEY_PREFIX=courseapp-test-$tag:
export COURSEAPP_REQUIRE_SERVICES=1
export GRADER_DEVICE=${GRADER_DEVICE:-cpu}
# Per-student queue limits (1 job in flight per exercise, 6 submissions a minute by default) are off
# for the suite, whose tests submit back to back; tests/integrity/test_fair_queues.py sets them.
export GRADING_MAX_IN_FLIGHT=${GRADING_MAX_IN_FLIGHT:-0} GRADING_MAX_PER_MINUTE=${GRADING_MAX_PER_MINUTE:-0}
unset DJANGO_ALLOW_ASYNC_UNSAFE

echo "==> pytest (DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL REDIS_KEY_PREFIX=$REDIS_KEY_PREFIX)"
exec "$PY" -m pytest "$@"

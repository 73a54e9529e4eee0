#!/usr/bin/env bash
# THE one command to run the service locally on embedded defaults (SQLite, filesystem broker):
# set up .venv, migrate, load the exercises, create the demo course (prints the logins), then run
# the web server on http://127.0.0.1:8000 and a grading worker together. Ctrl-C stops both.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

export DJANGO_SETTINGS_MODULE=courseapp.settings
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

echo "==> migrate"
"$PY" manage.py migrate --noinput
echo "==> sync_exercises (grades each reference solution; refuses a broken folder)"
"$PY" manage.py sync_exercises
echo "==> seed_demo"
"$PY" manage.py seed_demo

pids=()
stop() {
    trap - INT TERM EXIT
    echo
    echo "==> stopping web and worker"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap stop INT TERM EXIT

"$PY" -m celery -A courseapp worker -Q grade.cpu,grade.gpu --concurrency "${WORKER_CONCURRENCY:-1}" \
    --prefetch-multiplier 1 --loglevel INFO &
pids+=($!)
"$PY" -m gunicorn courseapp.wsgi:application --bind "$HOST:$PORT" \
    --graceful-timeout 5 --access-logfile - &
pids+=($!)

echo "==> the site is at http://$HOST:$PORT/  (log in with a login printed above; Ctrl-C stops)"
# Stop everything as soon as either process exits.
wait -n "${pids[@]}"

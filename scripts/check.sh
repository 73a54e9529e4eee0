#!/usr/bin/env bash
# The static checks, run first by scripts/test.sh (so .ci/run fails on a violation):
#   mypy         types (pyproject.toml: strict for grader/, django-stubs for courseapp/, services and
#                selectors fully annotated)
#   lint-imports the import contracts in .importlinter (grader imports no Django and no courseapp;
#                imports run one way: views/tasks -> services -> selectors -> policies -> models)
#   ruff check   lint (pyproject.toml)
#   ruff format  the one code style (`.venv/bin/ruff format .` fixes it)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

# Django settings for the stubs' plugin and for import-linter's import of the packages; no
# database or broker is touched.
export DJANGO_SETTINGS_MODULE=courseapp.settings

status=0
echo "==> mypy"
.venv/bin/mypy || status=1
echo "==> lint-imports"
.venv/bin/lint-imports || status=1
echo "==> ruff check"
.venv/bin/ruff check . || status=1
echo "==> ruff format --check"
.venv/bin/ruff format --check . || status=1
exit $status

# Shared setup for scripts/run.sh and scripts/test.sh (sourced, not run): a .venv with the pinned
# requirements. pip is re-run only when requirements.txt changed since the last install.
# torch is pinned exactly in requirements.txt (==2.13.0): pip never resolves an unpinned torch,
# which would pull a multi-GB CUDA build.

cd "$(dirname "${BASH_SOURCE[0]}")/.."

find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "scripts/setup.sh: Python 3.11 is needed (set PYTHON=/path/to/python3.11)" >&2
    return 1
}

if [ ! -x .venv/bin/python ]; then
    py=$(find_python) || exit 1
    echo "==> creating .venv with $py"
    "$py" -m venv .venv
fi

stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "==> installing requirements.txt into .venv"
    # --no-compile: pip would byte-compile all ~15,000 modules (torch, scipy, transformers...) one
    # after another, half of a fresh install's time; Python compiles the few thousand a run imports
    # on first import instead, into the same __pycache__ folders.
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements.txt
    echo "$want" > "$stamp"
fi
PY=.venv/bin/python
# ... which only works where Python may write them: a machine that sets PYTHONDONTWRITEBYTECODE (this
# one's base image does) made every process compile Django, Celery and torch's Python from source again,
# ~2 s of CPU per start (`python -c "import torch, django, celery, grader"`: 2.2 s without the
# .pyc files, 1.6 s with them); every web, worker and test process starts faster with them. The
# sandbox sets it again for student code (grader/sandbox/pool.py), which may not write anywhere.
unset PYTHONDONTWRITEBYTECODE

# One image for web, the setup job and the grading workers.
#   CPU:  docker compose build                 (TORCH_INDEX defaults to PyTorch's CPU wheel index)
#   GPU:  the worker-gpu service builds with TORCH_INDEX set to a CUDA wheel index (docker-compose.yml)
# torch is installed first from TORCH_INDEX at exactly the version requirements.txt pins; the
# `pip install -r requirements.txt` after it then finds torch==<pin> satisfied and keeps that build.
FROM python:3.11-slim-bookworm

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=courseapp.settings \
    STATIC_ROOT=/app/staticfiles \
    VAR_DIR=/tmp/courseapp

WORKDIR /app
COPY requirements.txt .
RUN set -eux; \
    torch_pin="$(grep -E '^torch==' requirements.txt)"; \
    pip install --index-url "$TORCH_INDEX" "$torch_pin"; \
    pip install -r requirements.txt; \
    # GPU images: NVML bindings, so the worker enforces each sandbox's GPU memory cap from outside
    # (grader/sandbox/gpu.py); without them only PyTorch's allocator cap applies.
    case "$TORCH_INDEX" in */cpu) ;; *) pip install nvidia-ml-py==13.615.71 ;; esac; \
    python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && rm -rf /tmp/courseapp

EXPOSE 8000
# Processes from the cores, one request at a time each (gunicorn.conf.py; WEB_WORKERS / WEB_THREADS
# override); compose puts nginx in front (deploy/nginx.conf).
CMD ["gunicorn", "courseapp.wsgi:application"]

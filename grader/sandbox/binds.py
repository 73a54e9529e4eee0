"""What the sandbox's read-only root shows of the host, and what it must never show.

The root binds the OS libraries, the Python runtime and site-packages. A source can CONTAIN what
must stay hidden: an install under /usr/src/app puts the project (solution.py, checks.py, the secret
key file, the exercise cache) inside the /usr bind. Each protected path inside a bound source is
covered by an empty read-only mount in the sandbox (a mask); where it cannot be (it does not exist
yet and no existing folder below the source holds it), the worker refuses to start and says why.
Sources inside a protected path are not bound at all, except site-packages (a venv in the checkout).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


class ProtectedBindError(Exception):
    """A bound source would show a protected path that cannot be masked."""


@dataclass
class BindPlan:
    sources: list[str] = field(default_factory=list)  # bound read-only at their own path (or symlinked)
    masks: list[str] = field(default_factory=list)  # sandbox paths covered by an empty read-only mount

    def shows(self, path: str) -> bool:
        """Whether the sandbox can read `path` (a host path) through this plan."""
        real = os.path.realpath(path)
        for src in self.sources:
            if os.path.islink(src):
                continue
            root = os.path.realpath(src)
            if real == root or real.startswith(root + os.sep):
                inside = src + real[len(root) :]
                if not any(inside == m or inside.startswith(m + os.sep) for m in self.masks):
                    return True
        return False


def _is_site_packages(path: str) -> bool:
    return "site-packages" in path or "dist-packages" in path


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def protected_paths(project_root: Path, extra: list[str] | None = None) -> list[str]:
    """The project, its exercises, VAR_DIR (SQLite, broker, exercise cache) and the secret key file,
    as the service's settings place them (the same environment variables, the same defaults)."""
    var = Path(os.environ.get("VAR_DIR") or project_root / "var")
    paths = [
        project_root,
        Path(os.environ.get("EXERCISES_DIR") or project_root / "exercises"),
        var,
        Path(os.environ.get("EXERCISE_CACHE_DIR") or var / "exercise-cache"),
        var / "secret_key",
    ]
    return [os.path.abspath(p) for p in [*map(str, paths), *(extra or [])]]


def plan(candidates: list[str], protected: list[str]) -> BindPlan:
    """Which candidates to bind, and which protected paths inside them to mask."""
    hidden = sorted({os.path.realpath(p) for p in protected if p})
    out = BindPlan()
    for path in candidates:
        if not os.path.lexists(path) or path in out.sources:
            continue
        real = os.path.realpath(path)
        if any(_under(real, h) for h in hidden) and not _is_site_packages(real):
            continue  # e.g. a venv root inside the project: only its site-packages are bound
        out.sources.append(path)
    for h in hidden:
        for src in out.sources:
            if os.path.islink(src):
                continue  # a symlink points at another source, masked there
            root = os.path.realpath(src)
            if h == root or not h.startswith(root + os.sep):
                continue
            shown = h
            while not os.path.lexists(shown):  # not there yet: hide the folder it would appear in
                shown = os.path.dirname(shown)
            if shown == root or not shown.startswith(root + os.sep):
                raise ProtectedBindError(
                    f"the sandbox would bind {src} read-only, which would show {h} (protected: the project, its "
                    f"exercises, VAR_DIR or the secret key) and it cannot be masked because {h} does not exist "
                    f"yet; create it (or install the project outside {src}) and start the worker again"
                )
            out.masks.append(src + shown[len(root) :])
    masks = sorted(set(out.masks), key=len)
    out.masks = [m for i, m in enumerate(masks) if not any(_under(m, earlier) for earlier in masks[:i])]
    return out

"""Load and validate an exercise folder (exercises/<slug>/).

An exercise is a folder of files, after PrairieLearn's question folders:

    exercise.toml   metadata (validated here; unknown keys are rejected)
    prompt.md       what the student reads (Markdown)
    starter.py      code exercises: what the editor starts with
    solution.py     code exercises: the reference (trusted; never enters the sandbox)
    checks.py       code exercises: the hidden checks (trusted; run OUTSIDE the sandbox)
    rubric.toml     free-text exercises: concepts and misconception detectors
    solution.md     free-text exercises: a model answer that must score full marks

Misconception ids are declared once, for the whole module, in exercises/misconceptions.toml.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("module", "freetext", "quiz")
QUEUES = ("cpu", "gpu")

# Files each kind must have, besides exercise.toml.
REQUIRED_FILES: dict[str, tuple[str, ...]] = {
    "module": ("prompt.md", "starter.py", "solution.py", "checks.py"),
    "freetext": ("prompt.md", "rubric.toml", "solution.md"),
    "quiz": ("prompt.md", "questions.toml"),
}

_TOP_KEYS = {
    "slug",
    "title",
    "kind",
    "max_score",
    "queue",
    "order",
    "summary",
    "interface",
    "limits",
    "max_chars",
    "train",
}
_INTERFACE_KEYS = {"class_name", "function_name"}
_LIMIT_KEYS = {"wall_s", "cpu_s", "memory_mb", "max_source_bytes"}

MAX_SOURCE_BYTES = 64 * 1024  # contracts.md §1


class ExerciseError(Exception):
    """An exercise folder is malformed. The message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass(frozen=True)
class Limits:
    wall_s: float = 20.0  # whole job, all checks
    cpu_s: float = 20.0
    memory_mb: int = 1536  # address-space budget on top of the warm interpreter
    max_source_bytes: int = MAX_SOURCE_BYTES


@dataclass(frozen=True)
class Exercise:
    slug: str
    title: str
    kind: str
    max_score: float
    path: Path
    prompt_markdown: str
    starter_code: str
    content_hash: str
    queue: str = "cpu"
    order: int = 0
    summary: str = ""
    class_name: str = ""
    function_name: str = ""
    max_chars: int = 2000
    limits: Limits = field(default_factory=Limits)
    extra: dict[str, Any] = field(default_factory=dict)

    def file(self, name: str) -> Path:
        return self.path / name


def _require(cond: bool, path: Path, problem: str) -> None:
    if not cond:
        raise ExerciseError(path, problem)


def content_hash(folder: Path) -> str:
    """sha256 over every file's relative path and bytes: a new revision iff this changes."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc"):
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def load_exercise(folder: str | Path) -> Exercise:
    """Read and validate one exercise folder; raise ExerciseError naming the file and the problem."""
    folder = Path(folder).resolve()
    _require(folder.is_dir(), folder, "is not a folder")
    toml_path = folder / "exercise.toml"
    _require(toml_path.is_file(), toml_path, "is missing")
    try:
        meta = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ExerciseError(toml_path, f"is not valid TOML: {exc}") from None

    unknown = set(meta) - _TOP_KEYS
    _require(not unknown, toml_path, f"unknown key(s): {', '.join(sorted(unknown))}")
    for key in ("slug", "title", "kind", "max_score"):
        _require(key in meta, toml_path, f"missing required key '{key}'")
    slug = meta["slug"]
    _require(
        isinstance(slug, str) and slug == folder.name,
        toml_path,
        f"slug '{slug}' must equal the folder name '{folder.name}'",
    )
    kind = meta["kind"]
    _require(kind in KINDS, toml_path, f"kind must be one of {', '.join(KINDS)}, not '{kind}'")
    _require(
        isinstance(meta["title"], str) and meta["title"].strip() != "", toml_path, "title must be a non-empty string"
    )
    max_score = meta["max_score"]
    _require(isinstance(max_score, (int, float)) and max_score > 0, toml_path, "max_score must be a positive number")
    queue = meta.get("queue", "cpu")
    _require(queue in QUEUES, toml_path, f"queue must be one of {', '.join(QUEUES)}, not '{queue}'")

    interface = meta.get("interface", {})
    _require(isinstance(interface, dict), toml_path, "[interface] must be a table")
    unknown = set(interface) - _INTERFACE_KEYS
    _require(not unknown, toml_path, f"unknown key(s) in [interface]: {', '.join(sorted(unknown))}")
    limits_raw = meta.get("limits", {})
    _require(isinstance(limits_raw, dict), toml_path, "[limits] must be a table")
    unknown = set(limits_raw) - _LIMIT_KEYS
    _require(not unknown, toml_path, f"unknown key(s) in [limits]: {', '.join(sorted(unknown))}")
    for k, v in limits_raw.items():
        _require(isinstance(v, (int, float)) and v > 0, toml_path, f"[limits] {k} must be a positive number")
    whole = ("memory_mb", "max_source_bytes")
    defaults = Limits()
    limits = Limits(
        wall_s=float(limits_raw.get("wall_s", defaults.wall_s)),
        cpu_s=float(limits_raw.get("cpu_s", defaults.cpu_s)),
        **{k: int(limits_raw.get(k, getattr(defaults, k))) for k in whole},
    )

    for name in REQUIRED_FILES[kind]:
        _require((folder / name).is_file(), folder / name, f"is missing (a '{kind}' exercise needs it)")
    if kind == "module":
        _require(
            bool(interface.get("class_name") or interface.get("function_name")),
            toml_path,
            "a 'module' exercise needs [interface] class_name or function_name",
        )

    def read(name: str) -> str:
        p = folder / name
        if not p.is_file():
            return ""
        try:
            return p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ExerciseError(p, "is not UTF-8 text") from None

    prompt = read("prompt.md")
    _require(prompt.strip() != "", folder / "prompt.md", "is empty")
    if kind == "module":
        for name in ("solution.py", "checks.py", "starter.py"):
            src = read(name)
            try:
                compile(src, str(folder / name), "exec")
            except SyntaxError as exc:
                raise ExerciseError(folder / name, f"has a syntax error on line {exc.lineno}: {exc.msg}") from None

    known = {"slug", "title", "kind", "max_score", "queue", "order", "summary", "interface", "limits", "max_chars"}
    return Exercise(
        slug=slug,
        title=meta["title"],
        kind=kind,
        max_score=float(max_score),
        path=folder,
        prompt_markdown=prompt,
        starter_code=read("starter.py") if kind == "module" else "",
        content_hash=content_hash(folder),
        queue=queue,
        order=int(meta.get("order", 0)),
        summary=str(meta.get("summary", "")),
        class_name=str(interface.get("class_name", "")),
        function_name=str(interface.get("function_name", "")),
        max_chars=int(meta.get("max_chars", 2000)),
        limits=limits,
        extra={k: v for k, v in meta.items() if k not in known},
    )


def discover_exercises(root: str | Path) -> list[Path]:
    """Every exercise folder under root (folders holding an exercise.toml), sorted by name."""
    root = Path(root)
    return sorted(p.parent for p in root.glob("*/exercise.toml"))


@dataclass(frozen=True)
class Misconception:
    id: str
    title: str
    explanation: str
    hint: str


def load_misconceptions(path: str | Path) -> dict[str, Misconception]:
    """The module's catalogue of misconception ids (exercises/misconceptions.toml)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExerciseError(path, "is missing") from None
    except tomllib.TOMLDecodeError as exc:
        raise ExerciseError(path, f"is not valid TOML: {exc}") from None
    out: dict[str, Misconception] = {}
    for mid, entry in raw.items():
        _require(isinstance(entry, dict), path, f"[{mid}] must be a table")
        for key in ("title", "explanation", "hint"):
            _require(
                isinstance(entry.get(key), str) and entry[key].strip() != "", path, f"[{mid}] needs a non-empty '{key}'"
            )
        out[mid] = Misconception(id=mid, title=entry["title"], explanation=entry["explanation"], hint=entry["hint"])
    return out


_catalogues: dict[tuple[str, int, int], dict[str, Misconception]] = {}


def catalogue_for(exercise: Exercise) -> dict[str, Misconception]:
    """The exercise's catalogue, parsed once per version of the file (every grade needs it)."""
    path = exercise.path.parent / "misconceptions.toml"
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ExerciseError(path, "is missing") from None
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _catalogues:
        _catalogues.clear()
        _catalogues[key] = load_misconceptions(path)
    return _catalogues[key]

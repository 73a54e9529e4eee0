"""Jupyter notebooks as submissions (contracts.md §2): pick the code that is graded out of a `.ipynb`.

A notebook holds far more than the answer: set-up cells, `!pip install` lines, magics, experiments
that train a model. Only the cell(s) that define the exercise's interface are graded (the class or
function named in exercise.toml), or, when the student tagged cells with the exercise's slug, exactly
those. The imports and the helper definitions those cells use are taken from earlier cells, so a
notebook that imports torch in its first cell still grades. Everything else is ignored.

The result is plain Python source (`NotebookCode.source`) whose first line says which cells it came
from; the service stores that source as the submission, so the note travels with it
(`graded_cells_note`). Pure: no Django, no torch.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import nbformat

# A notebook with outputs (plots, logs) is much larger than its code; 4 MiB keeps a generous margin
# while refusing files that are not a course notebook at all.
MAX_NOTEBOOK_BYTES = 4 * 1024 * 1024
MAX_CELLS = 2000

NOTE_PREFIX = "# Graded from the notebook: "

# Cell magics whose body is still Python (timing or capturing a cell); any other cell magic
# (%%bash, %%writefile, %%html...) makes the cell something other than Python.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_SHELL_ASSIGN = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*[!%]")


class NotebookError(ValueError):
    """The notebook cannot be graded; the message is for the student."""


@dataclass(frozen=True)
class GradedCell:
    number: int  # 1-based position among all the notebook's cells (what a student counts)
    execution_count: int | None
    reason: str  # e.g. "defines IdentityBlock" or "tagged identity-block"

    def label(self) -> str:
        run = f", In [{self.execution_count}]" if self.execution_count is not None else ""
        return f"cell {self.number}{run}"


@dataclass(frozen=True)
class NotebookCode:
    source: str
    cells: tuple[GradedCell, ...]
    support_cells: tuple[int, ...] = field(default=())  # cells whose imports/helpers were kept

    def describe(self) -> str:
        """One sentence for the feedback: which cells were graded and why."""
        graded = "; ".join(f"{c.label()} ({c.reason})" for c in self.cells)
        text = f"Graded notebook {graded}"
        if self.support_cells:
            others = ", ".join(str(n) for n in self.support_cells)
            text += (
                f", with the imports and helpers it uses from cell{'s' if len(self.support_cells) > 1 else ''} {others}"
            )
        return text + "; the other cells were ignored."


@dataclass
class _Cell:
    number: int
    execution_count: int | None
    tags: frozenset[str]
    python: str  # the cell's source with magics and shell lines removed ("" when not Python)


def is_notebook(filename: str, data: bytes | None = None) -> bool:
    """A `.ipynb` by name, or (name unknown) JSON that carries the notebook format keys."""
    if filename.lower().endswith(".ipynb"):
        return True
    if filename or data is None:
        return False
    head = data[:4096].lstrip()
    return head.startswith(b"{") and b'"nbformat"' in data[: 1 << 20] and b'"cells"' in data[: 1 << 20]


def graded_cells_note(source: str) -> str:
    """The note on a source produced by `extract_code` ("" for an ordinary `.py` submission)."""
    first = source.split("\n", 1)[0]
    return first[len(NOTE_PREFIX) :].strip() if first.startswith(NOTE_PREFIX) else ""


def _python_only(text: str) -> str:
    """The cell's Python: IPython line magics and shell escapes (`!pip install`) blanked out;
    "" when a cell magic makes the whole cell another language."""
    lines = text.splitlines()
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if first.startswith("%%"):
        magic = first[2:].split(None, 1)[0] if len(first) > 2 else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return ""
    kept = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")) or _SHELL_ASSIGN.match(line):
            kept.append("")  # keep line numbers: tracebacks still point at the student's lines
        else:
            kept.append(line)
    return "\n".join(kept)


def _read(data: bytes, max_bytes: int) -> list[_Cell]:
    if len(data) > max_bytes:
        raise NotebookError(
            f"The notebook is {len(data) / 1024 / 1024:.1f} MiB; the limit is "
            f"{max_bytes / 1024 / 1024:.0f} MiB. Clear the outputs (Edit > Clear All Outputs) "
            f"and submit it again."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(
            f"The notebook is not UTF-8 text (byte {exc.start} cannot be decoded); "
            f"it is not a .ipynb file saved by Jupyter."
        ) from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise NotebookError(
            f"The notebook is not valid JSON ({exc}); it may be damaged. Download it again "
            f"from Jupyter (File > Download as > Notebook)."
        ) from None
    if not isinstance(raw, dict) or "cells" not in raw or not isinstance(raw.get("nbformat"), int):
        raise NotebookError("The file is JSON but not a Jupyter notebook (no 'nbformat' and 'cells').")
    if raw["nbformat"] < 4:
        raise NotebookError(
            f"The notebook uses format version {raw['nbformat']}; save it with a current Jupyter (format 4)."
        )
    try:
        nb = nbformat.reads(text, as_version=4)  # type: ignore[no-untyped-call]  # nbformat ships no annotations
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several unrelated types for a bad file
        detail = str(exc).split("\n", 1)[0][:200]
        raise NotebookError(f"The notebook is malformed: {detail}") from None
    if len(nb.cells) > MAX_CELLS:
        raise NotebookError(f"The notebook has {len(nb.cells)} cells; the limit is {MAX_CELLS}.")
    cells = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        tags = cell.get("metadata", {}).get("tags", [])
        count = cell.get("execution_count")
        cells.append(
            _Cell(
                number=number,
                execution_count=count if isinstance(count, int) else None,
                tags=frozenset(t for t in tags if isinstance(t, str)),
                python=_python_only(str(cell.get("source", ""))),
            )
        )
    return cells


def _defines(cell: _Cell, names: Sequence[str]) -> str | None:
    """The interface name the cell defines at top level, if any. A cell with a syntax error counts
    when a line starts its definition: the student then sees the syntax error, not 'no cell'."""
    try:
        tree = ast.parse(cell.python)
    except SyntaxError:
        for name in names:
            if re.search(rf"^(class|def)\s+{re.escape(name)}\b", cell.python, re.MULTILINE):
                return name
        return None
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            return node.name
    return None


def _used_names(trees: Iterable[ast.AST]) -> set[str]:
    return {n.id for tree in trees for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _support(earlier: list[_Cell], graded_trees: Sequence[ast.AST]) -> tuple[list[str], list[int]]:
    """Top-level imports from earlier cells, and the top-level functions, classes and simple constants
    the graded code uses (transitively). Statements that run anything else (training loops, prints)
    stay out."""
    imports: list[tuple[int, str]] = []
    definitions: dict[str, tuple[int, str, ast.AST]] = {}
    for cell in earlier:
        try:
            tree = ast.parse(cell.python)
        except SyntaxError:
            continue
        for node in tree.body:
            segment = ast.get_source_segment(cell.python, node) or ""
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append((cell.number, segment))
            elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                definitions[node.name] = (cell.number, segment, node)
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Constant)
            ):
                definitions[node.targets[0].id] = (cell.number, segment, node)
    wanted: dict[str, tuple[int, str, ast.AST]] = {}
    frontier = _used_names(graded_trees)
    while frontier:
        name = frontier.pop()
        if name in definitions and name not in wanted:
            wanted[name] = definitions[name]
            frontier |= _used_names([definitions[name][2]]) - set(wanted)
    # The notebook's order (a helper may use an earlier one); imports first within a cell.
    chosen = sorted(imports + [(n, s) for n, s, _ in wanted.values()], key=lambda item: item[0])
    return [s for _, s in chosen], sorted({n for n, _ in chosen})


def extract_code(
    data: bytes,
    *,
    names: Sequence[str],
    tag: str,
    max_bytes: int = MAX_NOTEBOOK_BYTES,
    max_source_bytes: int | None = None,
) -> NotebookCode:
    """The Python source to grade from a notebook file, or NotebookError with a clear message.

    `names`: the interface the exercise asks for (class or function names); `tag`: a cell tag that
    marks the graded cells explicitly (the exercise's slug)."""
    names = [n for n in names if n]
    cells = _read(data, max_bytes)
    tagged = [c for c in cells if tag and tag in c.tags]
    if tagged:
        graded = [(c, f"tagged {tag}") for c in tagged]
    else:
        defining = [(c, name) for c in cells if (name := _defines(c, names))]
        if not defining:
            wanted = " or ".join(names) or "the exercise's interface"
            raise NotebookError(
                f"No code cell of the notebook defines {wanted}. Put your `class` or `def` "
                f"in a code cell (or tag the cell '{tag}') and submit it again."
            )
        # A name defined twice: the last definition is the one the notebook ends up with.
        last: dict[str, _Cell] = {name: c for c, name in defining}
        graded = sorted(((c, f"defines {name}") for name, c in last.items()), key=lambda item: item[0].number)
    first = graded[0][0].number
    graded_trees = []
    for cell, _ in graded:
        try:
            graded_trees.append(ast.parse(cell.python))
        except SyntaxError:
            pass  # graded as it is: the sandbox reports the syntax error with its line
    support, support_cells = _support([c for c in cells if c.number < first], graded_trees)
    code = NotebookCode(
        source="",
        cells=tuple(GradedCell(c.number, c.execution_count, why) for c, why in graded),
        support_cells=tuple(support_cells),
    )
    parts = [NOTE_PREFIX + code.describe()]
    if support:
        parts.append("# --- imports and helpers from earlier cells ---")
        parts.extend(support)
    for cell, _ in graded:
        parts.append(f"# --- notebook {GradedCell(cell.number, cell.execution_count, '').label()} ---")
        parts.append(cell.python.rstrip())
    source = "\n".join(parts) + "\n"
    if max_source_bytes is not None and len(source.encode("utf-8")) > max_source_bytes:
        raise NotebookError(
            f"The graded cells hold {len(source.encode('utf-8')) / 1024:.1f} KiB of code; the limit "
            f"is {max_source_bytes // 1024} KiB. Keep only your solution in the defining cell."
        )
    return NotebookCode(source=source, cells=code.cells, support_cells=code.support_cells)

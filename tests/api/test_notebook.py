"""grader.notebook: which cells of a notebook are graded, and the clear refusals (no Django)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.notebook import NotebookError, extract_code, graded_cells_note, is_notebook
from tests.api.notebooks import (
    CLASS_NO_SHORTCUT,
    CLASS_ONLY,
    IMPORTS,
    notebook_bytes,
    student_notebook,
)
from tests.conftest import IDENTITY_BLOCK

NAMES = ["IdentityBlock"]
ROOT = Path(__file__).resolve().parents[2]


def test_the_defining_cell_is_graded_with_the_imports_it_needs():
    code = extract_code(student_notebook(), names=NAMES, tag="identity-block")
    assert [c.number for c in code.cells] == [4] and code.cells[0].execution_count == 3
    assert code.support_cells == (3,)
    assert code.describe().startswith("Graded notebook cell 4, In [3] (defines IdentityBlock)")
    assert "import torch" in code.source and "class IdentityBlock" in code.source
    assert "pip install" not in code.source and "print(block" not in code.source and "SystemExit" not in code.source
    compile(code.source, "<nb>", "exec")
    assert graded_cells_note(code.source) == code.describe()


def test_the_last_definition_wins_and_helpers_come_along():
    helper = "def double(x):\n    return x + x\n\nSCALE = 2\n"
    uses = "class IdentityBlock(nn.Module):\n    def forward(self, x):\n        return double(x) * SCALE\n"
    code = extract_code(
        notebook_bytes(
            [
                ("code", IMPORTS),
                ("code", helper),
                ("code", CLASS_ONLY),
                ("code", "print('experiment')"),
                ("code", uses),
            ]
        ),
        names=NAMES,
        tag="identity-block",
    )
    assert [c.number for c in code.cells] == [5]
    assert code.support_cells == (1, 2)
    assert "def double" in code.source and "SCALE = 2" in code.source and "print('experiment')" not in code.source
    namespace: dict = {}
    exec(compile(code.source, "<nb>", "exec"), namespace)  # noqa: S102 - our own test source
    assert namespace["IdentityBlock"] is not None


def test_a_tagged_cell_is_graded_even_when_another_cell_defines_the_class():
    code = extract_code(
        notebook_bytes(
            [
                ("code", IMPORTS),
                ("code", CLASS_NO_SHORTCUT),
                ("code", CLASS_ONLY, ["identity-block"]),
            ]
        ),
        names=NAMES,
        tag="identity-block",
    )
    assert [c.number for c in code.cells] == [3] and code.cells[0].reason == "tagged identity-block"
    assert "torch.relu(out + x)" in code.source


def test_magics_and_shell_lines_are_dropped_but_line_numbers_kept():
    cell = "%%time\n" + "!ls\nfiles = !ls\n%load_ext autoreload\n" + CLASS_ONLY
    code = extract_code(notebook_bytes([("code", IMPORTS), ("code", cell)]), names=NAMES, tag="x")
    compile(code.source, "<nb>", "exec")
    assert "!ls" not in code.source and "%load_ext" not in code.source
    body = code.source.split("# --- notebook cell 2, In [2] ---\n", 1)[1]
    assert body.splitlines()[4].startswith("class IdentityBlock")


def test_a_cell_magic_in_another_language_is_not_python():
    with pytest.raises(NotebookError, match="No code cell of the notebook defines IdentityBlock"):
        extract_code(notebook_bytes([("code", "%%bash\nclass IdentityBlock\n")]), names=NAMES, tag="identity-block")


def test_a_syntax_error_in_the_defining_cell_is_still_graded():
    broken = "class IdentityBlock(nn.Module):\n    def forward(self, x)\n        return x\n"
    code = extract_code(notebook_bytes([("code", IMPORTS), ("code", broken)]), names=NAMES, tag="identity-block")
    assert [c.number for c in code.cells] == [2]
    with pytest.raises(SyntaxError):
        compile(code.source, "<nb>", "exec")


@pytest.mark.parametrize(
    "data, message",
    [
        (notebook_bytes([("code", IMPORTS), ("markdown", "class IdentityBlock: pass")]), "No code cell"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (json.dumps({"cells": []}).encode(), "not a Jupyter notebook"),
        (json.dumps({"nbformat": 3, "nbformat_minor": 0, "worksheets": [], "cells": []}).encode(), "format version 3"),
        (
            json.dumps(
                {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "source": 7}]}
            ).encode(),
            "malformed",
        ),
    ],
)
def test_refusals_say_what_is_wrong(data, message):
    with pytest.raises(NotebookError, match=message):
        extract_code(data, names=NAMES, tag="identity-block")


def test_too_large_notebooks_and_too_large_code_are_refused():
    big = student_notebook()
    with pytest.raises(NotebookError, match="MiB; the limit is"):
        extract_code(big, names=NAMES, tag="identity-block", max_bytes=len(big) - 1)
    with pytest.raises(NotebookError, match="KiB of code; the limit is 0 KiB"):
        extract_code(big, names=NAMES, tag="identity-block", max_source_bytes=300)


def test_is_notebook_by_name_or_content():
    assert is_notebook("work.IPYNB") and not is_notebook("work.py")
    assert is_notebook("", student_notebook()) and not is_notebook("", b"import torch\n")
    assert graded_cells_note("import torch\n") == ""


@pytest.mark.needs_engine
def test_the_cli_grades_a_notebook_and_names_the_cell(tmp_path):
    right = tmp_path / "right.ipynb"
    right.write_bytes(student_notebook())
    wrong = tmp_path / "wrong.ipynb"
    wrong.write_bytes(student_notebook(CLASS_NO_SHORTCUT))
    empty = tmp_path / "empty.ipynb"
    empty.write_bytes(notebook_bytes([("code", IMPORTS)]))
    run = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(IDENTITY_BLOCK), str(right), str(wrong), str(empty), "--json"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == 3
    assert results[0]["score"] == results[0]["max_score"] and "Graded notebook cell 4" in results[0]["output"]
    assert results[1]["score"] < results[1]["max_score"] and "shortcut_missing" in results[1]["misconceptions"]
    assert "cell 4" in results[1]["output"]
    assert results[2]["score"] == 0 and results[2]["status"] == "graded"
    assert "No code cell of the notebook defines IdentityBlock" in results[2]["output"]

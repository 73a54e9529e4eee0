"""Notebook files for the tests, written with nbformat the way Jupyter saves them."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tests.conftest import IDENTITY_CORRECT, IDENTITY_NO_SHORTCUT

IMPORTS = "import torch\nfrom torch import nn\n"
CLASS_ONLY = IDENTITY_CORRECT.split("\n\n\n", 1)[1]  # the class without its imports
CLASS_NO_SHORTCUT = IDENTITY_NO_SHORTCUT.split("\n\n\n", 1)[1]


def notebook_bytes(cells: list[tuple[str, str] | tuple[str, str, list[str]]]) -> bytes:
    """cells: (kind, source[, tags]) with kind 'code' or 'markdown'; execution counts 1, 2, ..."""
    nb = new_notebook()
    count = 0
    for item in cells:
        kind, source = item[0], item[1]
        tags = list(item[2]) if len(item) > 2 else []  # type: ignore[misc]
        if kind == "code":
            count += 1
            cell = new_code_cell(source, execution_count=count)
        else:
            cell = new_markdown_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nbformat.writes(nb).encode("utf-8")


def student_notebook(class_source: str = CLASS_ONLY) -> bytes:
    """A typical student notebook: pip line, imports, the class in cell 4, an experiment after it."""
    return notebook_bytes(
        [
            ("markdown", "# Identity block\nMy answer."),
            ("code", "!pip install torch\n%matplotlib inline"),
            ("code", IMPORTS),
            ("code", class_source),
            ("code", "block = IdentityBlock(4)\nprint(block(torch.randn(2, 4, 5, 5)).shape)\nraise SystemExit(1)"),
        ]
    )

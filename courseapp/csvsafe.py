"""CSV for spreadsheets: a cell that starts with = + - @ (or a tab or carriage return) is read as a
formula by Excel, LibreOffice and Google Sheets, so a student named '=HYPERLINK(...)' would run a
formula on the instructor's machine. Such cells get a leading apostrophe (OWASP's advice); plain
numbers (a negative score, say) are left as they are."""

from __future__ import annotations

import csv
import re
from typing import Any, Iterable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise(cell: Any) -> Any:
    if isinstance(cell, str) and cell.startswith(_FORMULA_START) and not _NUMBER.match(cell):
        return "'" + cell
    return cell


class SafeWriter:
    """csv.writer whose cells are neutralised."""

    def __init__(self, stream: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(stream, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(c) for c in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_writer(stream: Any, **kwargs: Any) -> SafeWriter:
    return SafeWriter(stream, **kwargs)

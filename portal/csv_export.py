"""CSV files that spreadsheets open safely. A cell that starts with = + - @ (or a tab or carriage
return, which some spreadsheets skip before them) is read as a formula by Excel and LibreOffice:
a subject's name or an audit detail could then run a command or send data out (CSV injection,
OWASP). Every CSV writer of the portal is made here, and such cells get a leading apostrophe."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """The cell as a spreadsheet will show it, never run it; numbers are left as numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer with every cell neutralised."""

    def __init__(self, stream: Any) -> None:
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: Any) -> SafeWriter:
    """The only way the portal writes CSV."""
    return SafeWriter(stream)

"""CSV cells a spreadsheet will not run: OWASP's advice against CSV (formula) injection."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# A cell starting with one of these is read as a formula by Excel, LibreOffice or Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The same behind blanks: spreadsheets trim some leading whitespace (a line break, a space,
# a no-break space) before they read a cell, and a zero-width character is invisible to
# whoever checks the file by eye. `\s` is every Unicode space; the rest are the zero-width
# spaces and joiners and the byte-order mark, which Python does not count as spaces.
_BEHIND_BLANKS = re.compile(r"[\s\u180e\u200b-\u200d\u2060\ufeff]+[=+\-@]")


def neutralise(value: Any) -> Any:
    """Text that a spreadsheet would evaluate, prefixed with `'` so it shows as text; numbers
    (ours are never negative) and other text pass unchanged."""
    if isinstance(value, str) and (value.startswith(FORMULA_STARTS) or _BEHIND_BLANKS.match(value)):
        return "'" + value
    return value


# Control characters but tab and LF (CR becomes LF): ESC, BEL, DEL and the C1 block (0x9b
# is CSI on its own) start the sequences that clear a terminal, retitle it or hide a link,
# and a CSV report is often read where it is printed.
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def csv_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as a CSV row for a writer ending lines with LF: None as an empty cell, every
    text cell neutralised. A CR inside a cell becomes LF: the writer quotes LF, but would
    leave a bare CR, which spreadsheets read as a new row starting with the rest."""
    return {key: "" if value is None else cell(value) for key, value in record.items()}


def cell(value: Any) -> Any:
    """One cell as `csv_row` writes it: neutralised, with no bare CR, and other control
    characters but tab shown as `?`, as the CLI prints a vendor's error."""
    value = neutralise(value)
    if not isinstance(value, str):
        return value
    value = value.replace("\r", "\n")
    return value if value.isprintable() else _TERMINAL_CONTROLS.sub("?", value)

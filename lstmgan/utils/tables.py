"""One Markdown/CSV table writer and one interval formatter for every stage (detect, generate, report).

Rows are dicts (or anything :func:`markdown_table` can read with ``row.get``); a missing, ``None``
or NaN cell reads ``n/a``; floats are rounded for reading (``digits`` decimals, one number for every
column or ``{column: decimals}``). Headers can be renamed without renaming the keys, so the CSV keeps
stable column names while the Markdown reads well.
"""
from __future__ import annotations

import csv
import io
import math
from typing import Any, Mapping, Sequence

MISSING = "n/a"


def fmt_cell(value: Any, digits: int = 3, significant: bool = False) -> str:
    """A cell as text: ``n/a`` for None/NaN, floats with ``digits`` decimals (3 significant
    digits when the number is too large or too small for them; ``significant``: ``digits``
    significant digits always), everything else ``str``."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        value = float(value)
        if math.isnan(value):
            return MISSING
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if significant:
            return f"{value:.{digits}g}"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 10 ** -digits):
            return f"{value:.3g}"
        return f"{value:.{digits}f}"
    return str(value)


def format_interval(estimate: Any, low: Any = None, high: Any = None, digits: int = 3,
                    significant: bool = False, signed: bool = False, bare: str = "") -> str:
    """The one way an estimate and its interval are written: ``0.912 [0.850, 0.960]``.

    ``digits`` decimals (``significant``: significant digits); ``signed`` writes ``+`` for
    differences; ``n/a`` without an estimate; the estimate followed by ``bare`` without an interval.
    """
    def finite(v: Any) -> bool:
        return v is not None and math.isfinite(float(v))

    if not finite(estimate):
        return MISSING
    # significant digits keep their trailing zeros (0.850, not 0.85): '#' without a bare trailing point
    spec = ("+" if signed else "") + ("#" if significant else "") + f".{digits}" + ("g" if significant else "f")

    def number(v: Any) -> str:
        text = format(float(v), spec)
        return text[:-1] if text.endswith(".") else text

    if not (finite(low) and finite(high)):
        return number(estimate) + bare
    return f"{number(estimate)} [{number(low)}, {number(high)}]"


def markdown_table(rows: Sequence[Mapping[str, Any] | Sequence[Any]], columns: Sequence[str] | None = None,
                   headers: Mapping[str, str] | None = None, digits: int | Mapping[str, int] = 3,
                   significant: bool = False, empty: str = "_(no rows)_") -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (one line per row, ending in a newline).

    ``columns``: keys to show, in order (default: the first row's keys); ``headers``: display
    names by key; ``digits``: decimals for floats, one number or ``{column: decimals}`` (default 3),
    or significant digits with ``significant=True``.
    Rows may also be sequences of cells in ``columns`` order. A ``|`` inside a cell is escaped so it
    cannot break the table.
    """
    if not rows:
        return empty + "\n"
    columns = list(columns or list(rows[0]))
    rows = [row if isinstance(row, Mapping) else dict(zip(columns, row)) for row in rows]
    headers = headers or {}

    def cell(row: Mapping[str, Any], c: str) -> str:
        d = digits if isinstance(digits, int) else digits.get(c, 3)
        return fmt_cell(row.get(c), d, significant).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers.get(c, c) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row, c) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """CSV of ``rows`` with exactly ``columns`` (NaN and None as empty cells, extra keys ignored)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: ("" if row.get(c) is None or (isinstance(row.get(c), float) and math.isnan(row[c]))
                             else row.get(c)) for c in columns})
    return buf.getvalue()

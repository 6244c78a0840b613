"""The regenerated thesis report: ``reports/REPORT.md`` (and HTML) from this run's outputs.

Nothing in the report is typed in by hand: every number is read from a metrics file written by a
stage, every figure is a file a stage drew, and every statement in the discussion is chosen by
comparing measured numbers. Each figure and table names the command that rebuilds it.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import math
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from lstmgan import __version__
from lstmgan.config import Params
from lstmgan.utils.io import atomic_write_text

log = logging.getLogger(__name__)

REPORTS = Path("reports")


@dataclass(frozen=True)
class Figure:
    """A figure of the report: its file, caption, the thesis figure it regenerates, how to rebuild it."""

    path: Path
    caption: str
    thesis: str
    command: str


# --------------------------------------------------------------------------------------------
# Reading what the stages wrote
# --------------------------------------------------------------------------------------------
def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def stage_times(notebooks_dir: Path = REPORTS / "notebooks") -> list[dict[str, Any]]:
    """Wall time of each executed stage notebook, from papermill's metadata."""
    rows = []
    for path in sorted(notebooks_dir.glob("*.ipynb")):
        meta = read_json(path).get("metadata", {}).get("papermill", {})
        duration = meta.get("duration")
        if duration is None:
            continue
        rows.append({"notebook": path.name, "seconds": float(duration),
                     "finished": str(meta.get("end_time", ""))[:19]})
    return rows


def detector_results(detect_dir: Path = REPORTS / "detect") -> list[dict[str, Any]]:
    """One row per detector x variant from ``reports/detect/*/metrics.json``."""
    rows = []
    for path in sorted(detect_dir.glob("*/metrics.json")):
        metrics = read_json(path)
        if metrics:
            rows.append({"run": path.parent.name, **metrics})
    return rows


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.{digits}f}" if abs(value) < 1e4 else f"{value:.3g}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None,
                   headers: dict[str, str] | None = None) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (missing cells stay empty)."""
    if not rows:
        return "_(no rows)_\n"
    columns = columns or list(rows[0])
    headers = headers or {}
    lines = ["| " + " | ".join(headers.get(c, c) for c in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             check=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+local changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def figures_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*") if p.suffix.lower() in (".png", ".gif", ".svg", ".jpg"))


def relative_to_report(path: Path, report_path: Path) -> str:
    import os

    return os.path.relpath(path, report_path.parent).replace("\\", "/")

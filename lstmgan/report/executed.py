"""Committed copies of executed stage notebooks, so the web shows them with their outputs.

The executed notebooks of ``dvc repro`` (``report.notebooks``) are DVC outputs, absent from a plain
clone. :func:`publish_notebooks` copies the ones ``report.published_notebooks`` names into
``report.executed`` with every PNG output reduced (at most :data:`MAX_WIDTH` px wide, 256 colours)
so that the repository stays small; everything else of the notebook is kept as it ran.
"""
from __future__ import annotations

import base64
import io
import json
import logging
from pathlib import Path
from typing import Any, Sequence

log = logging.getLogger(__name__)

MAX_WIDTH = 1000  # px of a PNG output in a published notebook


def reduce_png(data: str, max_width: int = MAX_WIDTH) -> str:
    """A base64 PNG at most ``max_width`` wide and quantised to 256 colours, base64 again."""
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(data))) as im:
        im = im.convert("RGB")
        if im.width > max_width:
            im = im.resize((max_width, round(im.height * max_width / im.width)), Image.LANCZOS)
        out = io.BytesIO()
        im.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return base64.b64encode(out.getvalue()).decode("ascii")


def reduced_notebook(notebook: dict[str, Any]) -> dict[str, Any]:
    """``notebook`` with every ``image/png`` output reduced (in place; returned for chaining)."""
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data") or {}
            if "image/png" in data:
                png = data["image/png"]
                data["image/png"] = reduce_png("".join(png) if isinstance(png, list) else png)
    return notebook


def publish_notebooks(source: Path, names: Sequence[str], out: Path) -> list[Path]:
    """Copy ``source/<name>.ipynb`` for each name into ``out`` (replaced as a whole), images reduced;
    a missing notebook is logged and left out."""
    from lstmgan.utils.io import atomic_dir

    written = []
    with atomic_dir(out) as tmp:
        for name in names:
            path = Path(source) / f"{name}.ipynb"
            if not path.is_file():
                log.info("executed notebook %s not found: not published", path)
                continue
            notebook = reduced_notebook(json.loads(path.read_text()))
            (tmp / path.name).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
            written.append(Path(out) / path.name)
    log.info("published %d executed notebooks to %s (%.0f KB)", len(written), out,
             sum(p.stat().st_size for p in written) / 1024)
    return written

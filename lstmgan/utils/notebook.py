"""Notebook helpers: every notebook starts with ``P = nb.setup(params_path, **sections)``.

The notebook reads ``params.yaml`` (``params_path``) itself, under papermill as by hand; papermill
injects only per-run values (``-p temporal none``, ``-p model vgg19``). A section given in the
``parameters`` cell (a dict, e.g. ``gan = {"out": "/tmp/try"}``) replaces that section of the file.
Either way the result is one validated :class:`~lstmgan.config.Params`.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Sequence

from lstmgan.config import Params, load_params
from lstmgan.utils.log import setup_logging

log = logging.getLogger(__name__)


def project_root(start: str | Path | None = None) -> Path:
    """The nearest folder at or above ``start`` that holds ``dvc.yaml`` (the project root)."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dvc.yaml").is_file() and (folder / "params.yaml").is_file():
            return folder
    raise FileNotFoundError(f"{here}: not inside the lstmgan project (no dvc.yaml above it); "
                            "open the notebook from the project's notebooks/ folder")


def setup(params_path: str = "params.yaml", overrides: Sequence[str] = (), **sections: Any) -> Params:
    """chdir to the project root, set up logging and plotting, and return validated params.

    ``sections`` are the notebook's parameter-cell values (``seed=..., data=..., gan=...``); ``None``
    means "take it from ``params_path``".
    """
    root = project_root()
    os.chdir(root)
    setup_logging()
    try:
        import matplotlib

        matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120, "savefig.bbox": "tight"})
        _inline_backend()
    except ImportError:  # plotting is optional for headless runs
        pass
    params = load_params(root / params_path, overrides=overrides, sections=sections)
    log.info("project root %s, params from %s", root, params_path)
    return params


def _inline_backend() -> None:
    """In a Jupyter kernel, draw ``plt.show()`` figures into the notebook whatever MPLBACKEND says.

    ``make repro`` exports ``MPLBACKEND=Agg`` and the kernel papermill starts inherits it, so without
    this a student's own ``plt.plot`` cell would leave no picture in the executed notebook.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and getattr(shell, "kernel", None) is not None:
        shell.run_line_magic("matplotlib", "inline")


def show(fig: Any, path: str | Path | None = None, dpi: int = 110) -> None:
    """Save ``fig`` to ``path`` (when given) and show it in the notebook as a PNG.

    The PNG is put into the cell's output explicitly (``IPython.display``), so an executed notebook
    holds the picture whatever the matplotlib backend (papermill under ``MPLBACKEND=Agg`` included);
    outside IPython nothing is displayed. Every figure cell of notebooks 01-03 ends with it. The
    figure is closed afterwards (pyplot keeps no reference to it).
    """
    import io

    if path is not None:
        savefig(fig, path)
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:  # a plain Python run: the saved file is the result
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        display(Image(data=buffer.getvalue(), format="png"))
    try:
        import matplotlib.pyplot as plt

        plt.close(fig)
    except ImportError:
        pass


def savefig(fig: Any, path: str | Path) -> Path:
    """Save a matplotlib figure atomically (parents created) and return its path."""
    from lstmgan.utils.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png")
    return path


def say(*lines: str) -> None:
    """Print ``lines`` as one stream output (one write: no empty fragments in the executed notebook)."""
    import sys

    sys.stdout.write("".join(f"{line}\n" for line in lines))
    sys.stdout.flush()


def params_line(section: Any, name: str = "") -> str:
    """One compact line of a params section's scalar settings (``data: source=synth, size=64, ...``):
    the values a notebook runs with, shown once instead of a dataclass repr."""
    from dataclasses import fields, is_dataclass

    items = [(f.name, getattr(section, f.name)) for f in fields(section)] if is_dataclass(section) else \
        list(dict(section).items())
    shown = ", ".join(f"{k}={v}" for k, v in items if isinstance(v, (str, int, float, bool, list)) and not
                      (isinstance(v, list) and len(v) > 6))
    return f"{name or type(section).__name__.removesuffix('Params').lower()}: {shown}"

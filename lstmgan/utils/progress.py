"""Progress bars for people watching, summary log lines for everything else.

A progress bar helps a person at a terminal or in a live notebook. In a non-interactive run
(``dvc repro`` -> papermill, a CI log, output piped to a file) every refresh becomes a line or an
output of its own: one training loop left 212 bar fragments in an executed notebook. So every loop
of the package asks :func:`progress` for its bar, and the bar switches itself off unless someone is
watching; the loops log a few summary lines instead (see :func:`summary_steps`).

Watching means (first match wins):

- ``LSTMGAN_PROGRESS`` is set: ``1``/``on``/``true`` forces bars on, ``0``/``off``/``false`` off;
- inside a Jupyter kernel: the current cell was run from a front end that accepts input
  (JupyterLab, Notebook, VS Code); papermill/nbclient executes cells with input disallowed, so an
  executed notebook never holds bar fragments;
- otherwise: ``sys.stderr`` is a terminal.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Iterable

_ON, _OFF = {"1", "on", "true", "yes"}, {"0", "off", "false", "no"}


def _jupyter_kernel():
    """The running ipykernel kernel object, or None outside one."""
    ipython_module = sys.modules.get("IPython")
    if ipython_module is None:
        return None
    try:
        shell = ipython_module.get_ipython()
    except Exception:  # noqa: BLE001 - an odd IPython must never break a training loop
        return None
    return getattr(shell, "kernel", None)


def progress_enabled() -> bool:
    """True when a person is watching this process's output (see the module docstring)."""
    forced = os.environ.get("LSTMGAN_PROGRESS", "").strip().lower()
    if forced in _ON:
        return True
    if forced in _OFF:
        return False
    kernel = _jupyter_kernel()
    if kernel is not None:
        return bool(getattr(kernel, "_allow_stdin", False))
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced stream
        return False


def progress(iterable: Iterable | None = None, **kwargs: Any):
    """A tqdm bar that is disabled unless :func:`progress_enabled`; same arguments as ``tqdm``.

    A caller's own ``disable=True`` (e.g. "too few items to bother") still wins. In a live
    notebook without ipywidgets the plain text bar is used (no ``IProgress not found`` warning).
    """
    kwargs["disable"] = bool(kwargs.get("disable", False)) or not progress_enabled()
    if not kwargs["disable"] and _jupyter_kernel() is not None:
        try:
            import ipywidgets  # noqa: F401

            from tqdm.notebook import tqdm
        except ImportError:
            from tqdm.std import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(iterable, **kwargs)


def summary_steps(total: int, lines: int = 5) -> set[int]:
    """The ``lines`` (about evenly spaced) step numbers in ``1..total`` at which a loop without a
    bar logs a summary line; the last step is always one of them."""
    if total <= 0:
        return set()
    lines = max(1, min(lines, total))
    return {round(total * k / lines) for k in range(1, lines + 1)}

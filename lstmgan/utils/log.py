"""Logging set-up shared by the command line and the notebooks."""
from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (pytest and Jupyter swap it), not the one at set-up."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(level: int | str | None = None) -> None:
    """Configure the ``lstmgan`` logger once (level from ``LSTMGAN_LOG`` or INFO)."""
    level = level or os.environ.get("LSTMGAN_LOG", "INFO")
    logger = logging.getLogger("lstmgan")
    logger.setLevel(level)
    if not logger.handlers:
        handler = _CurrentStderrHandler()
        handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
        logger.addHandler(handler)
        logger.propagate = False

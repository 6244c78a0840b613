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


_SAID: set[tuple[str, str]] = set()


def log_once(logger: logging.Logger, level: int, message: str) -> bool:
    """Log ``message`` the first time this process asks, and only at debug level after that.

    For notices that do not change between calls (a missing weight file asked for by three
    detectors of one stage): a reader should see them once. Returns True when it was logged at
    ``level``.
    """
    key = (logger.name, message)
    if key in _SAID:
        logger.debug(message)
        return False
    _SAID.add(key)
    logger.log(level, message)
    return True
